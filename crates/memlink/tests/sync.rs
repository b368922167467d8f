//! Events, robust mutexes and seqlocks between real processes, including
//! owners killed with `kill -9`.
//!
//! Each test re-runs this binary as its children (see `support`); the child
//! roles are in `play`. Every wait has a deadline; the only fixed-length
//! waits check that something does *not* happen.

mod support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use memlink::{Error, EventKind, Mapping, NamedEvent, RobustMutex, SeqLock};
use support::{role, unique_name, Child, Cleanup, DEADLINE};

/// The snapshot a seqlock writer publishes: every field the same number.
type Snapshot = [u64; 16];
/// Where the seqlock tests keep their stop flag in the mapping.
const STOP_FLAG: usize = 4032;
/// Where the mutex tests keep their counter, outside the mutex's line.
const COUNTER: usize = 256;
/// Increments per process in the mutual-exclusion test.
const INCREMENTS: u64 = 2000;

/// Polls `condition` until it holds; panics after [`DEADLINE`]. For state
/// that has no way to wake us (a counter in another process).
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn read_u64(view: &memlink::View, offset: usize) -> u64 {
    let mut b = [0u8; 8];
    view.read_at(offset, &mut b).unwrap();
    u64::from_ne_bytes(b)
}

/// Child roles.
fn play(role: &str, name: &str) {
    match role {
        // Waits on a named event and says whether it was released.
        "event-wait" => {
            let event = NamedEvent::open(name).unwrap();
            support::tell_parent("waiting");
            let released = event.wait_timeout(DEADLINE);
            support::tell_parent(if released { "released" } else { "timed out" });
        }
        // Waits 200 ms on an event nobody sets and reports how long it took.
        "event-timeout" => {
            let event = NamedEvent::open(name).unwrap();
            let start = Instant::now();
            let released = event.wait_timeout(Duration::from_millis(200));
            let took = start.elapsed().as_millis();
            support::tell_parent(&format!("{released} {took}"));
        }
        // Locks the mutex, half-updates the protected counter, and holds the
        // lock until killed.
        "mutex-hold" => {
            let mapping = Mapping::open(name).unwrap();
            let view = mapping.view_all().unwrap();
            let mutex = RobustMutex::attach(&view, 0).unwrap();
            let guard = mutex.lock_timeout(DEADLINE).unwrap().expect("lock");
            view.write_at(COUNTER, &u64::MAX.to_ne_bytes()).unwrap();
            support::tell_parent("locked");
            support::wait_for_parent();
            drop(guard);
        }
        // Reports what locking gives.
        "mutex-try" => {
            let mapping = Mapping::open(name).unwrap();
            let view = mapping.view_all().unwrap();
            let mutex = RobustMutex::attach(&view, 0).unwrap();
            let outcome = match mutex.lock_timeout(DEADLINE) {
                Ok(Some(g)) if g.owner_died() => "owner died".to_owned(),
                Ok(Some(_)) => "locked".to_owned(),
                Ok(None) => "timed out".to_owned(),
                Err(Error::NotRecoverable) => "not recoverable".to_owned(),
                Err(e) => format!("error {e}"),
            };
            support::tell_parent(&outcome);
        }
        // Increments the counter under the lock.
        "mutex-count" => {
            let mapping = Mapping::open(name).unwrap();
            let view = mapping.view_all().unwrap();
            let mutex = RobustMutex::attach(&view, 0).unwrap();
            support::tell_parent("ready");
            support::wait_for_parent();
            for _ in 0..INCREMENTS {
                let _g = mutex.lock_timeout(DEADLINE).unwrap().expect("lock");
                let n = read_u64(&view, COUNTER);
                view.write_at(COUNTER, &(n + 1).to_ne_bytes()).unwrap();
            }
            support::tell_parent("done");
        }
        // Publishes [i; 16] for i = 1, 2, ... until the stop flag is set.
        "seqlock-writer" => {
            let mapping = Mapping::open(name).unwrap();
            let view = mapping.view_all().unwrap();
            let lock = SeqLock::<Snapshot>::attach(&view, 0).unwrap();
            let stop = view.atomic_u32(STOP_FLAG).unwrap();
            let deadline = Instant::now() + DEADLINE;
            let mut i = 0u64;
            while stop.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
                i += 1;
                lock.write(&[i; 16]);
                // A seqlock favours its writer: one that never pauses can
                // starve readers. A 2 us breather keeps this a stress test
                // (hundreds of thousands of writes a second) with bounded
                // reads.
                let until = Instant::now() + Duration::from_micros(2);
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
            }
            support::tell_parent(&format!("wrote {i}"));
            support::wait_for_parent();
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn event_set_wakes_a_waiter_in_another_process() {
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    let name = unique_name("event-wake");
    let _cleanup = Cleanup(name.clone());
    let event = NamedEvent::create(&name, EventKind::AutoReset).unwrap();
    let mut child = Child::spawn(
        "event_set_wakes_a_waiter_in_another_process",
        "event-wait",
        &name,
    );
    child.expect("waiting");
    // The child is parked in the kernel (or about to be) once registered.
    eventually("the child to wait", || event.waiters() == 1);
    event.set();
    child.expect("released");
    assert!(!event.is_set(), "the waiter consumed the signal");
    assert_eq!(event.waiters(), 0);
    child.finish();
}

/// Two child processes of `test`, both blocked in `wait` on `event`.
fn two_waiting_children(test: &str, name: &str, event: &NamedEvent) -> [Child; 2] {
    let mut children = [
        Child::spawn(test, "event-wait", name),
        Child::spawn(test, "event-wait", name),
    ];
    for child in &mut children {
        child.expect("waiting");
    }
    eventually("both children to wait", || event.waiters() == 2);
    children
}

#[test]
fn auto_reset_releases_exactly_one_of_two_waiting_processes() {
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    const TEST: &str = "auto_reset_releases_exactly_one_of_two_waiting_processes";
    let name = unique_name("event-one");
    let _cleanup = Cleanup(name.clone());
    let event = NamedEvent::create(&name, EventKind::AutoReset).unwrap();
    let mut children = two_waiting_children(TEST, &name, &event);

    event.set();
    let deadline = Instant::now() + DEADLINE;
    let first = loop {
        assert!(Instant::now() < deadline, "no child was released");
        if let Some(i) = (0..2).find(|&i| {
            children[i]
                .recv_timeout(Duration::from_millis(5))
                .map(|m| assert_eq!(m, "released"))
                .is_some()
        }) {
            break i;
        }
    };
    let other = 1 - first;
    // The other one must stay blocked: give it ample time to (wrongly) go.
    assert_eq!(
        children[other].recv_timeout(Duration::from_millis(300)),
        None,
        "one set released two processes"
    );
    assert_eq!(event.waiters(), 1);
    assert!(!event.is_set());

    event.set();
    children[other].expect("released");
    let [a, b] = children;
    a.finish();
    b.finish();
}

#[test]
fn manual_reset_releases_every_waiting_process() {
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    const TEST: &str = "manual_reset_releases_every_waiting_process";
    let name = unique_name("event-all");
    let _cleanup = Cleanup(name.clone());
    let event = NamedEvent::create(&name, EventKind::ManualReset).unwrap();
    let mut children = two_waiting_children(TEST, &name, &event);
    event.set();
    event.reset(); // Too late to hold anyone back: they were waiting.
    for child in &mut children {
        child.expect("released");
    }
    let [a, b] = children;
    a.finish();
    b.finish();
}

#[test]
fn event_wait_in_another_process_times_out() {
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    let name = unique_name("event-timeout");
    let _cleanup = Cleanup(name.clone());
    let event = NamedEvent::create(&name, EventKind::AutoReset).unwrap();
    let mut child = Child::spawn(
        "event_wait_in_another_process_times_out",
        "event-timeout",
        &name,
    );
    let report = child.recv();
    let (released, took) = report.split_once(' ').unwrap();
    let took: u64 = took.parse().unwrap();
    assert_eq!(released, "false");
    assert!((200..5000).contains(&took), "took {took} ms");
    assert_eq!(event.waiters(), 0, "the timed-out waiter unregistered");
    child.finish();
}

/// A mapping with a robust mutex at 0 and a counter at [`COUNTER`].
fn mutex_mapping(tag: &str) -> (String, Cleanup, Mapping) {
    let name = unique_name(tag);
    let cleanup = Cleanup(name.clone());
    let mapping = Mapping::create(&name, 4096).unwrap();
    RobustMutex::init_in(&mapping.view_all().unwrap(), 0).unwrap();
    (name, cleanup, mapping)
}

#[test]
fn robust_mutex_reports_an_owner_killed_with_sigkill() {
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    let (name, _cleanup, mapping) = mutex_mapping("mutex-died");
    let view = mapping.view_all().unwrap();
    let mutex = RobustMutex::attach(&view, 0).unwrap();
    let mut child = Child::spawn(
        "robust_mutex_reports_an_owner_killed_with_sigkill",
        "mutex-hold",
        &name,
    );
    child.expect("locked");
    assert_eq!(mutex.owner_pid(), Some(child.pid()));
    assert!(mutex.try_lock().unwrap().is_none(), "the owner is alive");

    // Wait for the lock in another thread while the owner is killed; left
    // unreaped, the owner stays a zombie, which is dead all the same.
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| {
            let start = Instant::now();
            let guard = mutex.lock_timeout(DEADLINE).unwrap();
            (guard.map(|g| g.owner_died()), start.elapsed())
        });
        child.kill9_unreaped();
        let (outcome, took) = waiter.join().unwrap();
        assert_eq!(outcome, Some(true), "the lock came with owner-died");
        // One sleep slice (at most 100 ms) plus the time to die and be seen.
        assert!(took < Duration::from_secs(3), "took {took:?}");
    });
    // That guard was dropped without mark_consistent: gone for good.
    assert!(matches!(mutex.try_lock(), Err(Error::NotRecoverable)));
    drop(child);
}

#[test]
fn robust_mutex_recovers_when_marked_consistent() {
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    const TEST: &str = "robust_mutex_recovers_when_marked_consistent";
    let (name, _cleanup, mapping) = mutex_mapping("mutex-recover");
    let view = mapping.view_all().unwrap();
    let mutex = RobustMutex::attach(&view, 0).unwrap();
    let mut holder = Child::spawn(TEST, "mutex-hold", &name);
    holder.expect("locked");
    holder.kill9();

    let start = Instant::now();
    let mut guard = mutex.lock_timeout(DEADLINE).unwrap().expect("lock");
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(guard.owner_died());
    // The dead owner left the counter half-updated; repair it.
    assert_eq!(read_u64(&view, COUNTER), u64::MAX);
    view.write_at(COUNTER, &0u64.to_ne_bytes()).unwrap();
    guard.mark_consistent();
    drop(guard);

    // Another process now locks it normally.
    let mut next = Child::spawn(TEST, "mutex-try", &name);
    next.expect("locked");
    next.finish();
    assert!(!mutex.lock().unwrap().owner_died());
}

#[test]
fn robust_mutex_not_marked_consistent_is_unrecoverable_everywhere() {
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    const TEST: &str = "robust_mutex_not_marked_consistent_is_unrecoverable_everywhere";
    let (name, _cleanup, mapping) = mutex_mapping("mutex-unrecoverable");
    let view = mapping.view_all().unwrap();
    let mutex = RobustMutex::attach(&view, 0).unwrap();
    let mut holder = Child::spawn(TEST, "mutex-hold", &name);
    holder.expect("locked");
    holder.kill9();

    // Taken over by another process, which drops it without repairing.
    let mut taker = Child::spawn(TEST, "mutex-try", &name);
    taker.expect("owner died");
    taker.finish();

    assert!(matches!(mutex.lock(), Err(Error::NotRecoverable)));
    assert!(matches!(mutex.try_lock(), Err(Error::NotRecoverable)));
    let mut late = Child::spawn(TEST, "mutex-try", &name);
    late.expect("not recoverable");
    late.finish();
}

#[test]
fn robust_mutex_excludes_across_processes() {
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    const TEST: &str = "robust_mutex_excludes_across_processes";
    let (name, _cleanup, mapping) = mutex_mapping("mutex-count");
    let view = mapping.view_all().unwrap();
    let mutex = RobustMutex::attach(&view, 0).unwrap();
    let mut children = [
        Child::spawn(TEST, "mutex-count", &name),
        Child::spawn(TEST, "mutex-count", &name),
    ];
    for child in &mut children {
        child.expect("ready");
    }
    for child in &mut children {
        child.send("go");
    }
    for _ in 0..INCREMENTS {
        let _g = mutex.lock_timeout(DEADLINE).unwrap().expect("lock");
        let n = read_u64(&view, COUNTER);
        view.write_at(COUNTER, &(n + 1).to_ne_bytes()).unwrap();
    }
    for child in &mut children {
        child.expect("done");
    }
    assert_eq!(read_u64(&view, COUNTER), 3 * INCREMENTS);
    let [a, b] = children;
    a.finish();
    b.finish();
}

/// A mapping with a seqlock of [`Snapshot`] at 0 and a stop flag.
fn seqlock_mapping(tag: &str) -> (String, Cleanup, Mapping) {
    let name = unique_name(tag);
    let cleanup = Cleanup(name.clone());
    let mapping = Mapping::create(&name, 4096).unwrap();
    SeqLock::<Snapshot>::init_in(&mapping.view_all().unwrap(), 0, &[0; 16]).unwrap();
    (name, cleanup, mapping)
}

/// Reads `n` snapshots while another process writes; checks each and
/// returns how many distinct values were seen.
fn read_snapshots(lock: &SeqLock<Snapshot>, n: usize) -> usize {
    let mut last = 0;
    let mut distinct = 0;
    for _ in 0..n {
        let snap = lock
            .read_timeout(DEADLINE)
            .expect("a snapshot while the writer runs");
        assert!(snap.iter().all(|&x| x == snap[0]), "torn snapshot {snap:?}");
        assert!(snap[0] >= last, "snapshots went backwards");
        if snap[0] != last {
            distinct += 1;
            last = snap[0];
        }
    }
    distinct
}

#[test]
fn seqlock_reader_never_sees_a_torn_snapshot_from_a_writer_process() {
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    let (name, _cleanup, mapping) = seqlock_mapping("seqlock");
    let view = mapping.view_all().unwrap();
    let lock = SeqLock::<Snapshot>::attach(&view, 0).unwrap();
    let mut writer = Child::spawn(
        "seqlock_reader_never_sees_a_torn_snapshot_from_a_writer_process",
        "seqlock-writer",
        &name,
    );
    eventually("the writer to start", || lock.version() > 0);
    let distinct = read_snapshots(lock, 100_000);
    view.atomic_u32(STOP_FLAG)
        .unwrap()
        .store(1, Ordering::Relaxed);
    let report = writer.recv();
    let wrote: u64 = report.strip_prefix("wrote ").unwrap().parse().unwrap();
    assert!(distinct > 1, "the reads did not overlap any writes");
    assert_eq!(lock.read(), [wrote; 16]);
    assert_eq!(lock.version(), wrote);
    writer.finish();
}

#[test]
fn seqlock_survives_a_writer_killed_mid_stream() {
    if let Some((r, name)) = role() {
        return play(&r, &name);
    }
    let (name, _cleanup, mapping) = seqlock_mapping("seqlock-kill");
    let view = mapping.view_all().unwrap();
    let lock = SeqLock::<Snapshot>::attach(&view, 0).unwrap();
    let writer = Child::spawn(
        "seqlock_survives_a_writer_killed_mid_stream",
        "seqlock-writer",
        &name,
    );
    eventually("the writer to start", || lock.version() > 0);
    read_snapshots(lock, 5_000);
    writer.kill9();

    // Killed between writes: the last snapshot; killed inside one: none.
    match lock.read_timeout(Duration::from_millis(100)) {
        Some(snap) => assert!(snap.iter().all(|&x| x == snap[0]), "torn {snap:?}"),
        None => assert!(lock.try_read().is_none()),
    }
    // A new writer takes over and the readers are served again.
    lock.write(&[u64::MAX; 16]);
    assert_eq!(lock.read_timeout(DEADLINE), Some([u64::MAX; 16]));
}
