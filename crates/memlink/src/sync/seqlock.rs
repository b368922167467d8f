//! [`SeqLock`]: one writer publishes plain-data snapshots, readers copy them.
//!
//! # The sequence word
//!
//! | value | meaning                                                   |
//! |-------|-----------------------------------------------------------|
//! | even  | stable: the value holds the snapshot of write `seq / 2`   |
//! | odd   | a write is in progress (or its writer died half-way)      |
//!
//! * **write**: `seq := s | 1` (Relaxed), Release fence, copy the value in
//!   with relaxed atomic stores, `seq := (s | 1) + 1` (Release). When `seq`
//!   is already odd, the previous writer died mid-write: the new write
//!   completes that sequence number rather than opening another.
//! * **read**: `s1 := seq` (Acquire); odd → retry; copy the value out with
//!   relaxed atomic loads; Acquire fence; `s2 := seq` (Relaxed); the copy is
//!   a snapshot iff `s1 == s2`.
//!
//! Orderings: the reader's Acquire load of `s1` pairs with the writer's
//! closing Release store, so a reader that sees an even `s1` sees the whole
//! value written before it. If the reader's copy read any byte of a later
//! write, that write's Release fence (after making `seq` odd) pairs with the
//! reader's Acquire fence, so `s2` sees at least the odd value and the copy
//! is refused. All accesses to the value are atomic, so an overlapping copy
//! is merely discarded, never a data race.

use std::mem::size_of;
use std::sync::atomic::fence;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::Duration;

use bytemuck::Pod;

use super::wait;
use crate::error::{Error, Result};
use crate::layout::{self, SeqLock, TAG_SEQLOCK};
use crate::mapping::View;
use crate::sys::{Backoff, Limits, UNLIMITED};

/// Reads retried 100 times spin; after that they yield the CPU to let a
/// descheduled writer finish.
const READ_BACKOFF: Limits = Limits {
    spins: 100,
    yields: UNLIMITED,
};

impl<T: Pod + Send> SeqLock<T> {
    /// The size of this seqlock in shared memory, in bytes: a 16-byte header
    /// and the value, rounded up to a multiple of 128.
    pub const SIZE: usize = size_of::<Self>();
    /// The alignment this seqlock needs in memory, in bytes (128, or the
    /// value's alignment if larger).
    pub const ALIGN: usize = std::mem::align_of::<Self>();

    /// Makes the [`SeqLock::SIZE`] bytes at `offset` of `view` a seqlock
    /// holding `initial`, and returns it.
    ///
    /// `T` is any [`bytemuck::Pod`] type: plain bytes with no padding and no
    /// pointers, valid for every bit pattern (integers, floats, arrays of
    /// them, `#[repr(C)]` structs deriving `Pod`). Every process must use the
    /// same `T`; [`attach`](SeqLock::attach) checks its size.
    ///
    /// ```
    /// use memlink::{Mapping, SeqLock};
    /// # let name = format!("doc-seqlock-{}", std::process::id());
    /// let mapping = Mapping::create(&name, 4096)?;
    /// let view = mapping.view_all()?;
    ///
    /// // Position, velocity and a timestamp, published as one snapshot.
    /// let state = SeqLock::<[f64; 3]>::init_in(&view, 0, &[0.0; 3])?;
    /// state.write(&[1.5, -0.25, 1000.0]);
    ///
    /// // A reader (normally another process, attached by name):
    /// let reader = SeqLock::<[f64; 3]>::attach(&view, 0)?;
    /// assert_eq!(reader.read(), [1.5, -0.25, 1000.0]);
    /// assert_eq!(reader.version(), 1);
    /// # Ok::<(), memlink::Error>(())
    /// ```
    pub fn init_in<'v>(view: &'v View, offset: usize, initial: &T) -> Result<&'v SeqLock<T>> {
        let lock = Self::place(view, offset)?;
        let value_size = Self::value_size(view, offset)?;
        lock.seq.store(0, Relaxed);
        lock.store_value(initial);
        lock.value_size.store(value_size, Relaxed);
        // Release: pairs with the Acquire load of the tag in `attach`, which
        // then sees the initial value and sequence.
        lock.tag.store(TAG_SEQLOCK, Release);
        Ok(lock)
    }

    /// The seqlock that [`SeqLock::init_in`] made at `offset` of `view`
    /// (usually in another process), for values of type `T`.
    ///
    /// Fails with [`Error::WrongKind`] if the bytes there are not an
    /// initialised seqlock, and with [`Error::Corrupt`] if it holds
    /// values of another size than `T`.
    pub fn attach(view: &View, offset: usize) -> Result<&SeqLock<T>> {
        let lock = wait::attach(
            view,
            offset,
            "seqlock",
            // Acquire: pairs with the Release store in `init_in`.
            |l: &SeqLock<T>| l.tag.load(Acquire),
            |tag| tag == TAG_SEQLOCK,
        )?;
        let expected = Self::value_size(view, offset)?;
        let found = lock.value_size.load(Relaxed);
        if found != expected {
            return Err(Error::Corrupt {
                name: format!("{} at offset {offset}", view.name()),
                what: format!(
                    "the seqlock holds {found}-byte values, not {expected}-byte ones as asked"
                ),
            });
        }
        Ok(lock)
    }

    /// Publishes `value` as the new snapshot. Never blocks and never fails.
    ///
    /// There must be **one writer** at a time (one thread in one process):
    /// two concurrent writers can make readers accept a mix of both values.
    /// Guard the writes with a [`RobustMutex`](crate::RobustMutex) if several
    /// writers are unavoidable. A writer that dies mid-write leaves readers
    /// retrying until the next write, which repairs the sequence.
    pub fn write(&self, value: &T) {
        // Relaxed: only the (single) writer changes `seq`.
        let begin = self.seq.load(Relaxed) | 1;
        self.seq.store(begin, Relaxed);
        // Release fence: pairs with the Acquire fence in `try_read`; a reader
        // that sees any byte stored below then sees `seq` odd (or newer).
        fence(Release);
        self.store_value(value);
        // Release: pairs with the Acquire load of `s1` in `try_read`.
        self.seq.store(begin.wrapping_add(1), Release);
    }

    /// One attempt at a snapshot: `None` if a write was in progress or
    /// overlapped the copy.
    pub fn try_read(&self) -> Option<T> {
        // Acquire: pairs with the closing Release store in `write`.
        let s1 = self.seq.load(Acquire);
        if s1 & 1 != 0 {
            return None;
        }
        let value = self.load_value();
        // Acquire fence: pairs with the Release fence in `write`.
        fence(Acquire);
        // Relaxed: ordered after the copy by the fence above.
        let s2 = self.seq.load(Relaxed);
        (s1 == s2).then_some(value)
    }

    /// A consistent snapshot, retrying (spinning, then yielding) while
    /// writes overlap.
    ///
    /// This waits for as long as a write stays in progress: forever if the
    /// writer died mid-write and none follows. A seqlock favours its writer:
    /// while writes follow one another with no pause, a reader's copy keeps
    /// overlapping one and readers can starve. It suits values published at
    /// a bounded rate (state snapshots, telemetry), not a firehose. Use
    /// [`read_timeout`](SeqLock::read_timeout) when the writer is another
    /// process that may die.
    pub fn read(&self) -> T {
        let mut backoff = Backoff::new(READ_BACKOFF);
        loop {
            if let Some(value) = self.try_read() {
                return value;
            }
            backoff.snooze();
        }
    }

    /// A consistent snapshot, or `None` if none could be taken within
    /// `timeout` (a write stayed in progress, or writes came too fast).
    pub fn read_timeout(&self, timeout: Duration) -> Option<T> {
        let deadline = wait::deadline_after(timeout);
        let mut backoff = Backoff::new(READ_BACKOFF);
        loop {
            if let Some(value) = self.try_read() {
                return Some(value);
            }
            if wait::expired(deadline) {
                return None;
            }
            backoff.snooze();
        }
    }

    /// How many writes have completed (a write in progress is not counted).
    /// Readers can compare versions to learn whether anything changed
    /// without copying the value.
    pub fn version(&self) -> u64 {
        // Acquire: pairs with the closing Release store in `write`.
        self.seq.load(Acquire) / 2
    }

    fn place(view: &View, offset: usize) -> Result<&SeqLock<T>> {
        layout::place::<SeqLock<T>>(view, offset, "seqlock")
    }

    fn value_size(view: &View, offset: usize) -> Result<u32> {
        u32::try_from(size_of::<T>()).map_err(|_| {
            Error::invalid_argument(format!(
                "a seqlock value of {} bytes at offset {offset} of {} is too large",
                size_of::<T>(),
                view.name()
            ))
        })
    }
}

impl<T: Pod + Send> std::fmt::Debug for SeqLock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeqLock")
            .field("value_size", &size_of::<T>())
            .field("version", &self.version())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::sync::Arc;
    use std::thread;
    use std::time::Instant;

    use super::*;
    use crate::mapping::Mapping;

    fn mapping(tag: &str) -> Mapping {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "unit-seqlock-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        Mapping::create(&name, 8192).unwrap()
    }

    type Snapshot = [u64; 9];

    #[test]
    fn readers_never_see_torn_values() {
        let m = mapping("torn");
        let view = Arc::new(m.view_all().unwrap());
        SeqLock::<Snapshot>::init_in(&view, 128, &[0; 9]).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (view, stop) = (Arc::clone(&view), Arc::clone(&stop));
            thread::spawn(move || {
                let lock = SeqLock::<Snapshot>::attach(&view, 128).unwrap();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    lock.write(&[i; 9]);
                    // Writes without any pause starve readers (see `read`).
                    let until = Instant::now() + Duration::from_micros(2);
                    while Instant::now() < until {
                        std::hint::spin_loop();
                    }
                }
                i
            })
        };
        let lock = SeqLock::<Snapshot>::attach(&view, 128).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while lock.version() == 0 {
            assert!(Instant::now() < deadline, "the writer never started");
            thread::yield_now();
        }
        let mut last = 0;
        let mut torn_attempts = 0;
        for _ in 0..20_000 {
            match lock.try_read() {
                Some(v) => {
                    assert!(v.iter().all(|&x| x == v[0]), "torn snapshot {v:?}");
                    assert!(v[0] >= last, "went backwards");
                    last = v[0];
                }
                None => torn_attempts += 1,
            }
            let v = lock.read_timeout(Duration::from_secs(10)).unwrap();
            assert!(v.iter().all(|&x| x == v[0]), "torn snapshot {v:?}");
        }
        stop.store(true, Ordering::Relaxed);
        let writes = writer.join().unwrap();
        assert!(last > 0);
        assert_eq!(lock.read(), [writes; 9]);
        assert_eq!(lock.version(), writes);
        // Not asserted (timing-dependent), but useful when run by hand.
        let _ = torn_attempts;
    }

    #[test]
    fn a_write_after_a_dead_writer_repairs_the_sequence() {
        let m = mapping("dead");
        let view = m.view_all().unwrap();
        let lock = SeqLock::<u64>::init_in(&view, 0, &7).unwrap();
        assert_eq!(lock.read(), 7);
        // A writer died after making the sequence odd.
        lock.seq.store(3, Relaxed);
        assert_eq!(lock.try_read(), None);
        assert_eq!(lock.read_timeout(Duration::from_millis(20)), None);
        lock.write(&9);
        assert_eq!(lock.seq.load(Relaxed), 4);
        assert_eq!(lock.read(), 9);
    }

    #[test]
    fn attach_checks_kind_and_size() {
        let m = mapping("attach");
        let view = m.view_all().unwrap();
        assert!(matches!(
            SeqLock::<u64>::attach(&view, 0),
            Err(Error::WrongKind { .. })
        ));
        SeqLock::<[u32; 3]>::init_in(&view, 0, &[1, 2, 3]).unwrap();
        assert!(matches!(
            SeqLock::<u64>::attach(&view, 0),
            Err(Error::Corrupt { .. })
        ));
        assert_eq!(
            SeqLock::<[u32; 3]>::attach(&view, 0).unwrap().read(),
            [1, 2, 3]
        );
        assert_eq!(SeqLock::<[u32; 3]>::SIZE, 128);
        assert_eq!(SeqLock::<[u8; 200]>::SIZE, 256);
        assert!(matches!(
            SeqLock::<[u8; 8000]>::init_in(&view, 256, &[0; 8000]),
            Err(Error::OutOfRange { .. })
        ));
    }
}
