//! The limit of a copying channel for large messages: 1 MiB messages
//! streamed between two processes through a ring in a memlink mapping,
//! copied in and out either with plain `memcpy` (`ptr::copy_nonoverlapping`)
//! or with memlink's own copy loops ([`View::write_at`] / [`View::read_at`],
//! relaxed atomic words). No header, no validation, no zero-fill: what is
//! left is the cost of the bytes crossing from one core's cache to the
//! other's.
//!
//! To be a limit for `memlink copy 1 MiB` it gives the bytes everything the
//! channel gives them, and takes away only the channel's code:
//! * the channel's ring: as many bytes as its ring for 1 MiB messages holds
//!   ([`capacity_for`]), records of the payload and an 8-byte header laid end
//!   to end ([`Cursor`]), so that every payload lies where the channel's
//!   would, and private buffers from `Vec`, as the channel's bench uses.
//!   Placement matters more than it seems: the previous version copied
//!   between page-aligned slots and page-aligned buffers (to spare the
//!   copies 4K aliasing) and ran in one of two modes from run to run, 14-15
//!   or 17-19 GB/s, where the channel held 18-21; in the channel's places
//!   it runs at 18.5-21.0 (0.59-0.65x one-process memcpy, 2026-12-04),
//!   level with the channel within the runs' noise (a few per cent, either
//!   side ahead from run to run);
//! * the channel's default way of waiting: spin for 50 µs, then sleep on a
//!   futex until the other side's store wakes it. A side that only spins
//!   (the first version) loses its core's share to the machine's other work
//!   while it waits, where a sleeper is scheduled first when woken;
//! * the channel sender's rhythm of looking for room while the ring is full
//!   ([`ROOM_POLL_PAUSES`]): the stream is reader-bound, and a writer that
//!   keeps loading the reader's `head` line takes it away from the reader's
//!   next store.
//!
//! Both halves then spend about 96 % of their time in memcpy's `rep movsb`
//! (`perf`): the rest is the bytes crossing between cores.
//!
//! The only `unsafe` of the benchmark lives here: `memcpy` into memory that
//! another process maps. It is sound under the ring's protocol (a record
//! belongs to the writer until `tail` counts it and to the reader until
//! `head` passes it), which both halves below follow.
#![allow(unsafe_code)]

use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use memlink::{Mapping, View};
use rustix::thread::futex;

use crate::channel::capacity_for;
use crate::error::Result;
use crate::harness::Ctx;
use crate::harness::{expect_count, read_stamp, stamp};
use crate::process::{unique_name, PEER_DEADLINE};
use crate::stats::{self, Throughput};

/// How the bytes are copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CopyWith {
    /// `ptr::copy_nonoverlapping` (libc memcpy).
    Memcpy,
    /// `View::write_at` / `View::read_at`: memlink's relaxed atomic loops.
    View,
}

impl CopyWith {
    pub fn as_str(self) -> &'static str {
        match self {
            CopyWith::Memcpy => "memcpy",
            CopyWith::View => "view",
        }
    }
}

const SLOT: usize = 1 << 20;
/// The channel's ring for 1 MiB messages.
const CAPACITY: u64 = capacity_for(SLOT);
/// A record's 8-byte header, before its payload.
const HEADER: u64 = 8;
/// A record in the ring: header and payload, rounded up to 8 bytes.
const RECORD: u64 = (HEADER + SLOT as u64 + 7) & !7;
/// Where the ring starts in the mapping, after the counts.
const DATA: usize = 4096;

/// Where the records go, lap after lap: end to end, like the channel's,
/// with a record that would not fit before the end of the ring moved to
/// the start of the next lap (the channel's padding).
#[derive(Default)]
struct Cursor {
    /// Bytes of the ring used so far (padding included), over all laps.
    pos: u64,
}

impl Cursor {
    /// The next record's start (past any padding), and moves past it.
    fn next(&mut self) -> u64 {
        let lap_left = CAPACITY - self.pos % CAPACITY;
        if lap_left < RECORD {
            self.pos += lap_left;
        }
        let start = self.pos;
        self.pos += RECORD;
        start
    }
}

/// "Not stopped yet" in the stop word.
const RUNNING: u64 = u64::MAX;
/// How long a waiting side spins before it sleeps (the channel's default).
const SPIN: Duration = Duration::from_micros(50);
/// Longest sleep before a waiting side looks again on its own.
const SLICE: futex::Timespec = futex::Timespec {
    tv_sec: 0,
    tv_nsec: 100_000_000,
};

/// CPU pauses before each look at the reader's `head` while the ring is
/// full: the channel sender's `ROOM_POLL_PAUSES` (a few hundred
/// nanoseconds), for the reason the module docs give.
const ROOM_POLL_PAUSES: u32 = 128;

/// A count one side publishes and the other waits on.
struct Count<'a> {
    value: &'a AtomicU32,
    /// Set by the other side while it sleeps on `value`.
    sleeping: &'a AtomicU32,
}

impl Count<'_> {
    /// Publishes `value`. SeqCst orders the store before the look at
    /// `sleeping` (and `wait`'s store of `sleeping` before its look at the
    /// count): either the sleeper sees the new count, or we see it asleep
    /// and wake it. Release (in SeqCst): the bytes before the count.
    fn publish(&self, value: u32) {
        self.value.store(value, Ordering::SeqCst);
        self.ring();
    }

    /// Wakes the other side if it sleeps on this count (after a store it
    /// waits for, made SeqCst).
    fn ring(&self) {
        if self.sleeping.load(Ordering::SeqCst) != 0 {
            let _ = futex::wake(self.value, futex::Flags::empty(), 1);
        }
    }

    /// Waits until `ready` (which loads what the other side publishes)
    /// says so: spinning for [`SPIN`], then sleeping on this count.
    fn wait<T>(&self, mut ready: impl FnMut() -> Option<T>) -> Result<T> {
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            if let Some(v) = ready() {
                return Ok(v);
            }
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) && start.elapsed() >= SPIN {
                break;
            }
        }
        let deadline = Instant::now() + PEER_DEADLINE;
        loop {
            let seen = self.value.load(Ordering::SeqCst);
            self.sleeping.store(1, Ordering::SeqCst);
            // `ready`'s Acquire loads are not in the SeqCst order: the fence
            // keeps them after our store of `sleeping` (see `publish`).
            fence(Ordering::SeqCst);
            let value = ready();
            if value.is_none() {
                // EAGAIN (moved already), EINTR, ETIMEDOUT: look again.
                let _ = futex::wait(self.value, futex::Flags::empty(), seen, Some(&SLICE));
            }
            self.sleeping.store(0, Ordering::Relaxed);
            if let Some(v) = value.or_else(&mut ready) {
                return Ok(v);
            }
            if Instant::now() >= deadline {
                return Err("the other process stopped answering".into());
            }
        }
    }
}

struct Ring<'a> {
    view: &'a View,
    /// Messages published by the writer.
    tail: Count<'a>,
    /// Where the reader is in the ring ([`Cursor::pos`]): it is done with
    /// every byte before.
    head: Count<'a>,
    /// The total count once the writer is done, else `RUNNING`.
    stop: &'a AtomicU64,
}

impl<'a> Ring<'a> {
    fn new(view: &'a View) -> Result<Ring<'a>> {
        Ok(Ring {
            view,
            tail: Count {
                value: view.atomic_u32(0)?,
                sleeping: view.atomic_u32(4)?,
            },
            head: Count {
                value: view.atomic_u32(128)?,
                sleeping: view.atomic_u32(132)?,
            },
            stop: view.atomic_u64(256)?,
        })
    }
    /// Where the payload of the record at ring position `at` lies.
    fn offset(at: u64) -> usize {
        DATA + (at % CAPACITY + HEADER) as usize
    }

    fn write(&self, at: u64, msg: &[u8], with: CopyWith) -> Result<()> {
        let offset = Self::offset(at);
        match with {
            CopyWith::View => self.view.write_at(offset, msg)?,
            CopyWith::Memcpy => {
                if offset + msg.len() > self.view.len() {
                    return Err("raw copy: message beyond the mapping".into());
                }
                // SAFETY: `offset..offset + msg.len()` lies inside the view
                // (checked above), which stays mapped while `self.view`
                // lives. The ring's protocol gives this process sole use of
                // the record until it publishes `tail`, so nobody reads or
                // writes these bytes during the copy; `msg` is private
                // memory and cannot overlap the mapping.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        msg.as_ptr(),
                        self.view.as_ptr().add(offset),
                        msg.len(),
                    )
                };
            }
        }
        Ok(())
    }

    fn read(&self, at: u64, buf: &mut [u8], with: CopyWith) -> Result<()> {
        let offset = Self::offset(at);
        match with {
            CopyWith::View => self.view.read_at(offset, buf)?,
            CopyWith::Memcpy => {
                if offset + buf.len() > self.view.len() {
                    return Err("raw copy: message beyond the mapping".into());
                }
                // SAFETY: the range lies inside the view (checked above);
                // the writer published the record (Acquire of `tail`) and does
                // not touch it again until we release it through `head`;
                // `buf` is private memory.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        self.view.as_ptr().add(offset),
                        buf.as_mut_ptr(),
                        buf.len(),
                    )
                };
            }
        }
        Ok(())
    }
}

/// Streams 1 MiB messages to a peer, measuring (writing) side.
pub(crate) fn stream(ctx: &Ctx, with: CopyWith) -> Result<Throughput> {
    let name = unique_name("rawcopy");
    let mapping = Mapping::create(&name, DATA as u64 + CAPACITY)?;
    let view = mapping.view_all()?;
    let ring = Ring::new(&view)?;
    ring.stop.store(RUNNING, Ordering::Relaxed);
    let mut peer = ctx.spawn(&["raw-copy-sink".into(), name, with.as_str().into()], 0)?;
    let mut msg = vec![9u8; SLOT];
    let mut cursor = Cursor::default();
    let streamed = stats::stream(ctx.budget, SLOT, |seq| {
        let at = cursor.next();
        // Room as the channel counts it: the record and the 8 bytes after
        // it, within one ring of the reader's position. Acquire pairs with
        // the reader's Release of `head`: it is done with the bytes we are
        // about to overwrite. (Positions travel as their low 32 bits; the
        // distance between them is under 2^32.)
        let needed = (cursor.pos + HEADER) as u32;
        ring.head.wait(|| {
            for _ in 0..ROOM_POLL_PAUSES {
                std::hint::spin_loop();
            }
            let head = ring.head.value.load(Ordering::Acquire);
            (u64::from(needed.wrapping_sub(head)) <= CAPACITY).then_some(())
        })?;
        stamp(&mut msg, seq);
        ring.write(at, &msg, with)?;
        // Pairs with the reader's Acquire: the bytes before the count.
        ring.tail.publish(seq as u32 + 1);
        Ok(())
    })?;
    ring.stop.store(streamed.total, Ordering::SeqCst);
    ring.tail.ring();
    expect_count(&mut peer, streamed.total)?;
    let t = streamed.done();
    peer.finish()?;
    Ok(t)
}

/// Streams 1 MiB messages, reading side: prints the count at the end.
pub(crate) fn sink(name: &str, with: CopyWith) -> Result<()> {
    let mapping = Mapping::open(name)?;
    let view = mapping.view_all()?;
    let ring = Ring::new(&view)?;
    let mut buf = vec![0u8; SLOT];
    let mut cursor = Cursor::default();
    let mut count = 0u64;
    loop {
        // Acquire pairs with the writer's Release of `tail` (and of `stop`,
        // stored after the last `tail`).
        let more = ring.tail.wait(|| {
            if u64::from(ring.tail.value.load(Ordering::Acquire)) > count {
                Some(true)
            } else if ring.stop.load(Ordering::Acquire) == count {
                Some(false)
            } else {
                None
            }
        })?;
        if !more {
            break;
        }
        let at = cursor.next();
        ring.read(at, &mut buf, with)?;
        if read_stamp(&buf) != Some(count) {
            return Err(format!("raw copy: message {count} has a wrong stamp").into());
        }
        // Pairs with the writer's Acquire: we are done with it.
        ring.head.publish(cursor.pos as u32);
        count += 1;
    }
    println!("{count}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_lie_end_to_end_and_never_cross_the_end_of_the_ring() {
        let mut cursor = Cursor::default();
        let mut last_end = 0;
        let mut padded = 0;
        for _ in 0..100 {
            let at = cursor.next();
            let offset = at % CAPACITY;
            assert!(
                offset + RECORD <= CAPACITY,
                "record at {offset} crosses the end"
            );
            if at != last_end {
                // Padding only where the record would not have fitted.
                assert_eq!(at % CAPACITY, 0);
                assert!(CAPACITY - last_end % CAPACITY < RECORD);
                padded += 1;
            }
            last_end = at + RECORD;
            assert_eq!(cursor.pos, last_end);
        }
        assert!(padded > 0, "100 records of 1 MiB must wrap the ring");
        // Payloads drift within their pages, as the channel's do.
        let mut cursor = Cursor::default();
        let first = Ring::offset(cursor.next());
        assert_ne!(Ring::offset(cursor.next()) % 4096, first % 4096);
    }
}
