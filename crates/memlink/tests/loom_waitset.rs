//! Model check (loom) of the [`WaitSet`] park protocol: one waiter parked on
//! two channels' wake lines at once, two publishers each on one line. The
//! waiter must always be woken when either publishes: no lost wake-up.
//!
//! **This is a model, not the real code**, like `tests/loom_ring.rs`: it
//! mirrors `channel/waitset.rs` `WaitSet::park` (count ourselves parked on
//! every line, a `SeqCst` fence, read every futex word, look once more,
//! sleep on all the words) and the wakers' side (`Channel::wake` after a
//! `SeqCst` publication and a `SeqCst` load of `parked`). The kernel's
//! `futex_waitv` checks every word and goes to sleep atomically (under the
//! buckets' locks); the model does the same under one lock. Where the real
//! code relies on the total order of a `SeqCst` store and a later `SeqCst`
//! load, the model adds a `SeqCst` fence, as `tests/loom_ring.rs` explains.
//!
//! The async futures (`channel/future.rs`) arm with the same steps on one
//! line (count parked, fence, read the word, look once more) and hand the
//! word to the reactor, which sleeps on it as `futex_waitv` does: the model
//! with one of its two lines covers them.
//!
//! Events and peer watches in a set need no model of their own: a set
//! registers on an event by a CAS on the event's one state word and sleeps
//! on the value it registered under, so any `set` or `notify_*` after the
//! registration changes the word the kernel compares (the argument of
//! `sync/event.rs`); departures bump their line's word unconditionally.
//!
//! Run with:
//! RUSTFLAGS="--cfg loom" cargo test --release -p memlink --test loom_waitset
//!
//! [`WaitSet`]: memlink::channel::WaitSet
#![cfg(loom)]

use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

/// The futexes of every line: `futex_waitv` sleeps until any of its words
/// changes, checked atomically with going to sleep.
struct Futexes {
    words: [AtomicU32; 2],
    lock: Mutex<()>,
    sleepers: Condvar,
}

impl Futexes {
    /// `sys::wait_on_any(words, seen)`, without a deadline.
    fn wait_any(&self, seen: [u32; 2]) {
        let guard = self.lock.lock().unwrap();
        if (0..2).any(|i| self.words[i].load(Ordering::SeqCst) != seen[i]) {
            return;
        }
        drop(self.sleepers.wait(guard).unwrap());
    }

    /// `Channel::wake(line)`: bump the word, wake every sleeper.
    fn wake(&self, i: usize) {
        self.words[i].fetch_add(1, Ordering::Release);
        let _guard = self.lock.lock().unwrap();
        self.sleepers.notify_all();
    }
}

struct Lines {
    /// Each channel's `ProducerLine::tail`.
    tails: [AtomicU64; 2],
    /// Each line's `WakeLine::parked`.
    parked: [AtomicU32; 2],
    futexes: Futexes,
}

/// Which version of `WaitSet::park` to model.
#[derive(Clone, Copy, PartialEq)]
enum Park {
    /// As written: a `SeqCst` fence after counting ourselves parked.
    AsWritten,
    /// Without the fence.
    WithoutFence,
}

impl Lines {
    fn new() -> Lines {
        Lines {
            tails: [AtomicU64::new(0), AtomicU64::new(0)],
            parked: [AtomicU32::new(0), AtomicU32::new(0)],
            futexes: Futexes {
                words: [AtomicU32::new(0), AtomicU32::new(0)],
                lock: Mutex::new(()),
                sleepers: Condvar::new(),
            },
        }
    }

    /// `Receiver::has_published` for each line.
    fn ready(&self) -> bool {
        (0..2).any(|i| self.tails[i].load(Ordering::Acquire) != 0)
    }

    /// `Sender::publish` then its wake-up check, on line `i`.
    fn publish(&self, i: usize) {
        self.tails[i].store(8, Ordering::SeqCst);
        // Stands for the SeqCst total order of this store and the load
        // below, which loom does not model for plain SeqCst accesses (see
        // "SeqCst in loom" in tests/loom_ring.rs).
        fence(Ordering::SeqCst);
        if self.parked[i].load(Ordering::SeqCst) != 0 {
            self.futexes.wake(i);
        }
    }

    /// `WaitSet::wait`'s loop around `WaitSet::park`, without deadlines
    /// or liveness slices (so a lost wake-up is a deadlock loom finds).
    fn wait(&self, park: Park) {
        while !self.ready() {
            for parked in &self.parked {
                parked.fetch_add(1, Ordering::SeqCst);
            }
            if park == Park::AsWritten {
                fence(Ordering::SeqCst);
            }
            let seen = [
                self.futexes.words[0].load(Ordering::Acquire),
                self.futexes.words[1].load(Ordering::Acquire),
            ];
            if !self.ready() {
                self.futexes.wait_any(seen);
            }
            for parked in &self.parked {
                parked.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

/// One waiter on two lines; one publisher on one of them (which one is the
/// model's choice, run for both).
fn model(park: Park) {
    for line in 0..2 {
        loom::model(move || {
            let lines = Arc::new(Lines::new());
            let publisher = {
                let lines = Arc::clone(&lines);
                thread::spawn(move || lines.publish(line))
            };
            lines.wait(park);
            publisher.join().unwrap();
        });
    }
}

#[test]
fn a_waitset_is_always_woken_by_either_line() {
    model(Park::AsWritten);
}

/// Why `WaitSet::park` fences after counting itself parked, as a single
/// blocked call does: without it the re-check may miss the publication
/// while the publisher misses the count, and nobody wakes the set.
#[test]
#[ignore = "a model of a bug: loom must fail it (see `loom_finds_the_modelled_bug`)"]
fn a_waitset_without_the_fence_can_lose_a_wake_up() {
    model(Park::WithoutFence);
}

/// Runs the model of the bug in a child process (loom aborts on a
/// deadlock) and checks that loom fails it.
#[test]
fn loom_finds_the_modelled_bug() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "a_waitset_without_the_fence_can_lose_a_wake_up",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    assert!(
        !output.status.success(),
        "loom passed the fenceless model:\n{text}"
    );
    assert!(
        text.contains("deadlock"),
        "loom failed it, but not with a deadlock:\n{text}"
    );
}
