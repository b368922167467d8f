//! The limit of a copying channel for large messages: 1 MiB messages
//! streamed between two processes through 1 MiB slots of a memlink mapping,
//! copied in and out either with plain `memcpy` (`ptr::copy_nonoverlapping`)
//! or with memlink's own copy loops ([`View::write_at`] / [`View::read_at`],
//! relaxed atomic words). No header, no validation, no zero-fill: what is
//! left is the cost of the bytes crossing from one core's cache to the
//! other's.
//!
//! To be a limit for `memlink copy 1 MiB` it must give the bytes every
//! advantage the channel has, and more:
//! * as many messages in flight as the channel's ring holds
//!   ([`capacity_for`]); with four slots (the first version) the writer
//!   stalled on the reader more often than the channel's sender does, and
//!   the channel beat its own limit;
//! * page-aligned slots *and* page-aligned private buffers, so that source
//!   and destination of every copy are equally placed within their pages:
//!   a destination a few bytes past its source modulo 4 KiB makes the
//!   copy's loads wait on its own earlier stores (4K aliasing), which
//!   `Vec`'s 16-byte offset did to the reader of the first version on every
//!   message, and memlink's drifting record offsets only to some;
//! * the channel's default way of waiting: spin for 50 µs, then sleep on a
//!   futex until the other side's store wakes it. A side that only spins
//!   (the first version) loses its core's share to the machine's other work
//!   while it waits, where a sleeper is scheduled first when woken.
//!
//! The only `unsafe` of the benchmark lives here: `memcpy` into memory that
//! another process maps. It is sound under the slot protocol (a slot belongs
//! to the writer until `tail` passes it and to the reader until `head`
//! does), which both halves below follow.
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
/// Messages in flight: as many as the channel's ring for 1 MiB messages
/// holds (records of `SLOT + 8` bytes, rounded up to 8).
const SLOTS: u64 = capacity_for(SLOT) / (SLOT as u64 + 8);
const DATA: usize = 4096;
const PAGE: usize = 4096;

/// A `len`-byte buffer of private memory that starts on a page boundary
/// (see the module docs): a `Vec` one page longer, and the offset into it.
struct Aligned {
    bytes: Vec<u8>,
    start: usize,
    len: usize,
}

impl Aligned {
    fn new(len: usize, fill: u8) -> Aligned {
        let bytes = vec![fill; len + PAGE];
        let start = bytes.as_ptr().align_offset(PAGE).min(PAGE);
        Aligned { bytes, start, len }
    }

    fn get(&self) -> &[u8] {
        &self.bytes[self.start..self.start + self.len]
    }

    fn get_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[self.start..self.start + self.len]
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

struct Slots<'a> {
    view: &'a View,
    /// Messages published by the writer.
    tail: Count<'a>,
    /// Messages released by the reader.
    head: Count<'a>,
    /// The total count once the writer is done, else `RUNNING`.
    stop: &'a AtomicU64,
}

impl<'a> Slots<'a> {
    fn new(view: &'a View) -> Result<Slots<'a>> {
        Ok(Slots {
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
    fn offset(seq: u64) -> usize {
        DATA + (seq % SLOTS) as usize * SLOT
    }

    fn write(&self, seq: u64, msg: &[u8], with: CopyWith) -> Result<()> {
        let offset = Self::offset(seq);
        match with {
            CopyWith::View => self.view.write_at(offset, msg)?,
            CopyWith::Memcpy => {
                if offset + msg.len() > self.view.len() {
                    return Err("raw copy: message beyond the mapping".into());
                }
                // SAFETY: `offset..offset + msg.len()` lies inside the view
                // (checked above), which stays mapped while `self.view`
                // lives. The slot protocol gives this process sole use of
                // the slot until it publishes `tail`, so nobody reads or
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

    fn read(&self, seq: u64, buf: &mut [u8], with: CopyWith) -> Result<()> {
        let offset = Self::offset(seq);
        match with {
            CopyWith::View => self.view.read_at(offset, buf)?,
            CopyWith::Memcpy => {
                if offset + buf.len() > self.view.len() {
                    return Err("raw copy: message beyond the mapping".into());
                }
                // SAFETY: the range lies inside the view (checked above);
                // the writer published the slot (Acquire of `tail`) and does
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
    let mapping = Mapping::create(&name, (DATA + SLOTS as usize * SLOT) as u64)?;
    let view = mapping.view_all()?;
    let slots = Slots::new(&view)?;
    slots.stop.store(RUNNING, Ordering::Relaxed);
    let mut peer = ctx.spawn(&["raw-copy-sink".into(), name, with.as_str().into()], 0)?;
    let mut msg = Aligned::new(SLOT, 9);
    let streamed = stats::stream(ctx.budget, SLOT, |seq| {
        // Acquire pairs with the reader's Release of `head`: it is done
        // with the slot we are about to overwrite.
        slots.head.wait(|| {
            (seq - u64::from(slots.head.value.load(Ordering::Acquire)) < SLOTS).then_some(())
        })?;
        stamp(msg.get_mut(), seq);
        slots.write(seq, msg.get(), with)?;
        // Pairs with the reader's Acquire: the bytes before the count.
        slots.tail.publish(seq as u32 + 1);
        Ok(())
    })?;
    slots.stop.store(streamed.total, Ordering::SeqCst);
    slots.tail.ring();
    expect_count(&mut peer, streamed.total)?;
    let t = streamed.done();
    peer.finish()?;
    Ok(t)
}

/// Streams 1 MiB messages, reading side: prints the count at the end.
pub(crate) fn sink(name: &str, with: CopyWith) -> Result<()> {
    let mapping = Mapping::open(name)?;
    let view = mapping.view_all()?;
    let slots = Slots::new(&view)?;
    let mut buf = Aligned::new(SLOT, 0);
    let mut count = 0u64;
    loop {
        // Acquire pairs with the writer's Release of `tail` (and of `stop`,
        // stored after the last `tail`).
        let more = slots.tail.wait(|| {
            if u64::from(slots.tail.value.load(Ordering::Acquire)) > count {
                Some(true)
            } else if slots.stop.load(Ordering::Acquire) == count {
                Some(false)
            } else {
                None
            }
        })?;
        if !more {
            break;
        }
        slots.read(count, buf.get_mut(), with)?;
        if read_stamp(buf.get()) != Some(count) {
            return Err(format!("raw copy: message {count} has a wrong stamp").into());
        }
        // Pairs with the writer's Acquire: we are done with it.
        slots.head.publish(count as u32 + 1);
        count += 1;
    }
    println!("{count}");
    Ok(())
}
