//! The limit of a copying channel for large messages: 1 MiB messages
//! streamed between two processes through four 1 MiB slots of a memlink
//! mapping, copied in and out either with plain `memcpy`
//! (`ptr::copy_nonoverlapping`) or with memlink's own copy loops
//! ([`View::write_at`] / [`View::read_at`], relaxed atomic words). No header,
//! no validation, no zero-fill: what is left is the cost of the bytes
//! crossing from one core's cache to the other's.
//!
//! The only `unsafe` of the benchmark lives here: `memcpy` into memory that
//! another process maps. It is sound under the slot protocol (a slot belongs
//! to the writer until `tail` passes it and to the reader until `head`
//! does), which both halves below follow.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use clap::ValueEnum;
use memlink::{Mapping, View};

use crate::error::Result;
use crate::harness::spin_until;
use crate::harness::Ctx;
use crate::harness::{expect_count, read_stamp, stamp};
use crate::process::unique_name;
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

const SLOTS: u64 = 4;
const SLOT: usize = 1 << 20;
const DATA: usize = 4096;
/// "Not stopped yet" in the stop word.
const RUNNING: u64 = u64::MAX;

struct Slots<'a> {
    view: &'a View,
    /// Messages published by the writer.
    tail: &'a AtomicU64,
    /// Messages released by the reader.
    head: &'a AtomicU64,
    /// The total count once the writer is done, else `RUNNING`.
    stop: &'a AtomicU64,
}

impl<'a> Slots<'a> {
    fn new(view: &'a View) -> Result<Slots<'a>> {
        Ok(Slots {
            view,
            tail: view.atomic_u64(0)?,
            head: view.atomic_u64(128)?,
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
    let mut msg = vec![9u8; SLOT];
    let streamed = stats::stream(ctx.budget, SLOT, |seq| {
        // Acquire pairs with the reader's Release of `head`: it is done
        // with the slot we are about to overwrite.
        spin_until(|| (seq - slots.head.load(Ordering::Acquire) < SLOTS).then_some(()))?;
        stamp(&mut msg, seq);
        slots.write(seq, &msg, with)?;
        // Release pairs with the reader's Acquire: the bytes before the
        // count.
        slots.tail.store(seq + 1, Ordering::Release);
        Ok(())
    })?;
    slots.stop.store(streamed.total, Ordering::Release);
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
    let mut buf = vec![0u8; SLOT];
    let mut count = 0u64;
    loop {
        // Acquire pairs with the writer's Release of `tail` (and of `stop`,
        // stored after the last `tail`).
        let more = spin_until(|| {
            if slots.tail.load(Ordering::Acquire) > count {
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
        slots.read(count, &mut buf, with)?;
        if read_stamp(&buf) != Some(count) {
            return Err(format!("raw copy: message {count} has a wrong stamp").into());
        }
        // Release pairs with the writer's Acquire: we are done with it.
        slots.head.store(count + 1, Ordering::Release);
        count += 1;
    }
    println!("{count}");
    Ok(())
}
