//! Waiting and process identity on Linux: shared futexes, and the facts a
//! robust mutex needs to tell a dead lock owner from a live one.
//!
//! # Futexes
//!
//! The futexes are *shared* (no `FUTEX_PRIVATE_FLAG`): the kernel keys them by
//! the page of the shared object and the offset in it, so a waiter in one
//! process is woken by a waker in another, whatever address each mapped the
//! object at. Every wait may return early (a signal, a changed value, a
//! spurious wake-up); callers re-check their word in a loop.
//!
//! # Process identity
//!
//! A pid alone is not an identity: pids are reused. A process is identified
//! by its pid, its start time (field 22 of `/proc/PID/stat`, in clock ticks
//! since boot) and its pid namespace (`/proc/self/ns/pid`), because a pid
//! means something only inside one pid namespace.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::process::Pid;
use rustix::thread::futex;

use crate::sys::ProcessIdentity;

/// Waits until `word` may have changed from `expected`, someone wakes it, or
/// `deadline` passes (`None`: no deadline). Returns `false` when the deadline
/// had passed, `true` otherwise; either way the caller re-checks its word.
pub(crate) fn wait_on(word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> bool {
    let timeout = match deadline {
        None => None,
        Some(deadline) => {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            Some(timespec(deadline - now))
        }
    };
    match futex::wait(word, futex::Flags::empty(), expected, timeout.as_ref()) {
        // Woken, or the word no longer held `expected`, or a signal came.
        Ok(()) | Err(Errno::AGAIN) | Err(Errno::INTR) => true,
        Err(Errno::TIMEDOUT) => false,
        // A kernel or sandbox without futexes (ENOSYS) must not turn every
        // wait into a hot spin: nap briefly instead, and let the caller poll.
        Err(_) => {
            let nap = Duration::from_millis(1);
            match deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    std::thread::sleep(left.min(nap));
                    Instant::now() < deadline
                }
                None => {
                    std::thread::sleep(nap);
                    true
                }
            }
        }
    }
}

/// Wakes every thread, in any process, waiting on `word`.
pub(crate) fn wake_all(word: &AtomicU32) {
    let _ = futex::wake(word, futex::Flags::empty(), i32::MAX as u32);
}

/// Waits until any of `words` may have changed from its expected value,
/// someone wakes one, or `deadline` passes, with one `futex_waitv` (Linux
/// 5.16+). Returns `false` when the deadline had passed. Older kernels (and
/// more words than the call takes) fall back to
/// [`crate::sys::wait_on_any_by_polling`].
pub(crate) fn wait_on_any(words: &[(&AtomicU32, u32)], deadline: Option<Instant>) -> bool {
    /// The most words one `futex_waitv` takes.
    const MAX: usize = 128;
    if words.is_empty() || words.len() > MAX {
        return crate::sys::wait_on_any_by_polling(words, deadline);
    }
    let timeout = match deadline {
        None => None,
        Some(deadline) => {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            // An absolute time on the monotonic clock.
            let left = deadline - now;
            let base = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
            let nanos = u64::try_from(base.tv_nsec).unwrap_or(0) + u64::from(left.subsec_nanos());
            Some(futex::Timespec {
                tv_sec: base
                    .tv_sec
                    .saturating_add(i64::try_from(left.as_secs()).unwrap_or(i64::MAX))
                    .saturating_add((nanos / 1_000_000_000) as i64),
                tv_nsec: (nanos % 1_000_000_000) as _,
            })
        }
    };
    let mut waiters = [futex::Wait::new(); MAX];
    for (waiter, (word, expected)) in waiters.iter_mut().zip(words) {
        waiter.val = u64::from(*expected);
        waiter.uaddr = futex::WaitPtr::new(word.as_ptr().cast());
        // Shared (no FUTEX2_PRIVATE): woken from any process.
        waiter.flags = futex::WaitFlags::SIZE_U32;
    }
    match futex::waitv(
        &waiters[..words.len()],
        futex::WaitvFlags::empty(),
        timeout.as_ref(),
        rustix::time::ClockId::Monotonic,
    ) {
        // Woken, a word no longer held its value, or a signal came.
        Ok(_) | Err(Errno::AGAIN) | Err(Errno::INTR) => true,
        Err(Errno::TIMEDOUT) => false,
        // A kernel before 5.16 (ENOSYS), or a sandbox that refuses it.
        Err(_) => crate::sys::wait_on_any_by_polling(words, deadline),
    }
}

/// Wakes at most one thread, in any process, waiting on `word`.
pub(crate) fn wake_one(word: &AtomicU32) {
    // Errors (none expected for a valid address) leave waiters to their
    // deadlines, which every wait has.
    let _ = futex::wake(word, futex::Flags::empty(), 1);
}

fn timespec(d: Duration) -> futex::Timespec {
    futex::Timespec {
        tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: d.subsec_nanos().into(),
    }
}

// The identity of the current process, cached per pid: a child made by
// `fork` has another pid and recomputes it. Every thread that computes it for
// one pid computes the same values, so racing writers are harmless; the pid
// is published last (Release) and read first (Acquire), so a reader that sees
// its own pid also sees the start time and namespace computed for it.
static CACHED_PID: AtomicU32 = AtomicU32::new(0);
static CACHED_START: AtomicU64 = AtomicU64::new(0);
static CACHED_NS: AtomicU64 = AtomicU64::new(0);

/// The identity of the calling process. Costs one `getpid` system call once
/// the identity is cached.
pub(crate) fn current_process() -> ProcessIdentity {
    let pid = rustix::process::getpid().as_raw_nonzero().get() as u32;
    // Acquire: pairs with the Release store below (in this or another thread).
    if CACHED_PID.load(Ordering::Acquire) == pid {
        return ProcessIdentity {
            pid,
            start: CACHED_START.load(Ordering::Relaxed),
            pid_ns: CACHED_NS.load(Ordering::Relaxed),
        };
    }
    let start = read_stat(pid).map(|s| s.start).unwrap_or(0);
    let pid_ns = own_pid_namespace().unwrap_or(0);
    CACHED_START.store(start, Ordering::Relaxed);
    CACHED_NS.store(pid_ns, Ordering::Relaxed);
    // Release: publishes the two stores above with the pid they belong to.
    CACHED_PID.store(pid, Ordering::Release);
    ProcessIdentity { pid, start, pid_ns }
}

/// Whether process `pid` (in the caller's pid namespace) may still be alive.
///
/// Returns `false` only when it is certainly gone: no such process, a zombie
/// (killed, not yet reaped: it can never run again), or a process whose start
/// time differs from `start` (the pid was reused), when `start` is given as
/// the low 32 bits of the start time. Anything this user may not look at
/// counts as alive: wrongly declaring a live owner dead would break mutual
/// exclusion, while the opposite only makes a waiter wait.
pub(crate) fn process_alive(pid: u32, start: Option<u32>) -> bool {
    let Some(raw) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        // Not a pid at all (0, or beyond any pid_max): nobody owns with it.
        return false;
    };
    // kill(pid, 0) sees every process of the namespace, even where `/proc`
    // is mounted with `hidepid`; ESRCH is definite.
    if let Err(Errno::SRCH) = rustix::process::test_kill_process(raw) {
        return false;
    }
    match read_stat(pid) {
        Ok(stat) => {
            if stat.state == b'Z' || stat.state == b'X' {
                return false;
            }
            match start {
                Some(start) => stat.start as u32 == start,
                None => true,
            }
        }
        // Gone between the two checks.
        Err(StatError::Gone) => false,
        Err(StatError::Unreadable) => true,
    }
}

struct Stat {
    state: u8,
    start: u64,
}

enum StatError {
    Gone,
    Unreadable,
}

/// Reads the state and start time of a process from `/proc/PID/stat`.
fn read_stat(pid: u32) -> Result<Stat, StatError> {
    let text = match std::fs::read(format!("/proc/{pid}/stat")) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StatError::Gone),
        Err(e) if e.raw_os_error() == Some(Errno::SRCH.raw_os_error()) => {
            return Err(StatError::Gone)
        }
        Err(_) => return Err(StatError::Unreadable),
    };
    parse_stat(&text).ok_or(StatError::Unreadable)
}

/// Parses `pid (comm) state ppid ... starttime ...`. The command name may
/// hold spaces and parentheses, so fields are counted from the last `)`.
fn parse_stat(text: &[u8]) -> Option<Stat> {
    let close = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(text.get(close + 1..)?).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    // Field 3 is the state; field 22 is the start time.
    let state = *fields.next()?.as_bytes().first()?;
    let start = fields.nth(22 - 4)?.parse().ok()?;
    Some(Stat { state, start })
}

/// The inode number of this process's pid namespace (`pid:[NNN]`).
fn own_pid_namespace() -> Option<u64> {
    let link = std::fs::read_link("/proc/self/ns/pid").ok()?;
    let text = link.to_str()?;
    text.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let line =
            b"4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.state, b'S');
        assert_eq!(stat.start, 987654);
        assert!(parse_stat(b"garbage").is_none());
        assert!(parse_stat(b"1 (x) S 1 2").is_none());
    }

    #[test]
    fn this_process_is_alive_and_identified() {
        let me = current_process();
        assert_eq!(me.pid, std::process::id());
        assert_ne!(me.start, 0);
        assert_ne!(me.pid_ns, 0);
        assert_eq!(current_process(), me);
        assert!(process_alive(me.pid, Some(me.start as u32)));
        assert!(process_alive(me.pid, None));
        assert!(!process_alive(me.pid, Some(me.start as u32 ^ 1)));
        assert!(!process_alive(0, None));
        assert!(!process_alive(u32::MAX, None));
    }

    #[test]
    fn a_reaped_child_is_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        // The pid could be reused at once in theory; with a start time of
        // another process it still reads as dead.
        assert!(!process_alive(pid, Some(1)));
    }

    #[test]
    fn wait_on_times_out_and_sees_changed_values() {
        let word = AtomicU32::new(5);
        // Wrong expected value: returns at once.
        assert!(wait_on(
            &word,
            4,
            Some(Instant::now() + Duration::from_secs(5))
        ));
        let start = Instant::now();
        assert!(!wait_on(&word, 5, Some(start)));
        let deadline = Instant::now() + Duration::from_millis(30);
        while wait_on(&word, 5, Some(deadline)) {}
        assert!(Instant::now() >= deadline);
        wake_one(&word);
        crate::sys::wake_all(&word);
    }
}
