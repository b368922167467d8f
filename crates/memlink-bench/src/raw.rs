//! Hand-built messaging over a memlink mapping, without the channel layer:
//! the hardware limit (`Bare`), and rebuilds of what a channel message does,
//! one step at a time, to find which step costs what.
//!
//! All variants are ping-pongs between two processes. Direction 0 is
//! benchmark → peer, 1 the way back; each direction has its own counter,
//! "position" and "parked" words, each on its own 128-byte block (an
//! adjacent-line prefetch pair), as in a channel.

use std::sync::atomic::{AtomicU64, Ordering};

use clap::ValueEnum;
use memlink::{Mapping, View};

use crate::error::Result;
use crate::harness::spin_until;
use crate::harness::Ctx;
use crate::process::unique_name;
use crate::stats::{self, Latency};

/// What the raw ping-pong carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RawVariant {
    /// One counter per direction, nothing else: the hardware limit.
    Bare,
    /// A 64-byte payload (8 relaxed word stores, as memlink copies) always
    /// at the same place, then a Release store of the counter.
    Release,
    /// As `Release`, published as memlink's channel does: a SeqCst store of
    /// the counter, then a SeqCst load of a "parked" word (the Dekker
    /// handshake with sleepers); the reader also stores its position SeqCst
    /// and loads the other "parked" word.
    Dekker,
    /// As `Dekker`, but each message is a record (8-byte header + 64-byte
    /// payload) at the next position of a 64 KiB ring, packed back to back
    /// at a 72-byte stride: memlink's record layout.
    Ring72,
    /// As `Ring72` with each record starting on its own 128-byte block: a
    /// record never shares a cache line with its neighbours.
    Ring128,
    /// As `Ring72` with 56-byte payloads: a 64-byte record, one cache line.
    Ring64,
}

impl RawVariant {
    pub fn as_str(self) -> &'static str {
        match self {
            RawVariant::Bare => "bare",
            RawVariant::Release => "release",
            RawVariant::Dekker => "dekker",
            RawVariant::Ring72 => "ring72",
            RawVariant::Ring128 => "ring128",
            RawVariant::Ring64 => "ring64",
        }
    }

    /// `(record stride, payload words)` of the ring variants.
    fn ring(self) -> Option<(usize, usize)> {
        match self {
            RawVariant::Ring72 => Some((72, 8)),
            RawVariant::Ring128 => Some((128, 8)),
            RawVariant::Ring64 => Some((64, 7)),
            _ => None,
        }
    }
}

/// Sent instead of a counter: the peer stops.
const STOP: u64 = u64::MAX;
/// Bytes of each direction's ring.
const RING: usize = 64 * 1024;
/// Control blocks, then one ring per direction.
const SIZE: u64 = (4096 + 2 * RING) as u64;

/// One direction's words.
struct Direction<'a> {
    flag: &'a AtomicU64,
    head: &'a AtomicU64,
    parked_by_receiver: &'a AtomicU64,
    parked_by_sender: &'a AtomicU64,
    /// The fixed payload (`Release`, `Dekker`) or the ring's words.
    words: Vec<&'a AtomicU64>,
    /// Ring variants: byte position of the next record, the same on both
    /// sides since both see every message.
    pos: usize,
}

struct RawLines<'a> {
    dirs: [Direction<'a>; 2],
    variant: RawVariant,
}

impl<'a> RawLines<'a> {
    fn new(view: &'a View, variant: RawVariant) -> Result<RawLines<'a>> {
        let word = |offset: usize| view.atomic_u64(offset);
        let dir = |d: usize| -> Result<Direction<'a>> {
            let base = 1024 * (d + 1);
            let words = if variant.ring().is_some() {
                let ring = 4096 + d * RING;
                (0..RING / 8)
                    .map(|i| word(ring + 8 * i))
                    .collect::<memlink::Result<_>>()?
            } else {
                (0..8)
                    .map(|i| word(base + 128 + 8 * i))
                    .collect::<memlink::Result<_>>()?
            };
            Ok(Direction {
                flag: word(base)?,
                head: word(base + 256)?,
                parked_by_receiver: word(base + 384)?,
                parked_by_sender: word(base + 512)?,
                words,
                pos: 0,
            })
        };
        Ok(RawLines {
            dirs: [dir(0)?, dir(1)?],
            variant,
        })
    }

    /// Where the next record goes, wrapping to the start of the ring when
    /// it would not fit (memlink writes a padding record there instead).
    fn record_at(dir: &mut Direction, stride: usize) -> usize {
        if dir.pos + stride > RING {
            dir.pos = 0;
        }
        let at = dir.pos / 8;
        dir.pos += stride;
        at
    }

    /// Publishes `value` in direction `d`.
    fn send(&mut self, d: usize, value: u64) {
        let variant = self.variant;
        let dir = &mut self.dirs[d];
        match variant.ring() {
            Some((stride, payload)) => {
                let at = Self::record_at(dir, stride);
                for k in 0..payload {
                    // Relaxed: published by the counter store below.
                    dir.words[at + 1 + k].store(value.wrapping_add(k as u64), Ordering::Relaxed);
                }
                dir.words[at].store(value, Ordering::Relaxed);
            }
            None if variant != RawVariant::Bare => {
                for (k, w) in dir.words.iter().enumerate() {
                    // Relaxed: published by the counter store below.
                    w.store(value.wrapping_add(k as u64), Ordering::Relaxed);
                }
            }
            None => {}
        }
        if matches!(variant, RawVariant::Bare | RawVariant::Release) {
            // Release pairs with the Acquire in `recv`.
            dir.flag.store(value, Ordering::Release);
        } else {
            // SeqCst store then SeqCst load: the StoreLoad ordering a sender
            // needs to see a receiver that went to sleep (memlink's publish).
            dir.flag.store(value, Ordering::SeqCst);
            std::hint::black_box(dir.parked_by_receiver.load(Ordering::SeqCst));
        }
    }

    /// Waits for `expected` (or STOP) in direction `d`.
    fn recv(&mut self, d: usize, expected: u64) -> Result<u64> {
        let variant = self.variant;
        let dir = &mut self.dirs[d];
        // Acquire pairs with the Release (or SeqCst) store in `send`.
        let value = spin_until(|| {
            let v = dir.flag.load(Ordering::Acquire);
            (v == expected || v == STOP).then_some(v)
        })?;
        if value == STOP {
            return Ok(value);
        }
        let (first, words) = match variant.ring() {
            Some((stride, payload)) => {
                let at = Self::record_at(dir, stride);
                let header = dir.words[at].load(Ordering::Relaxed);
                if header != value {
                    return Err(format!("raw ring: header {header} for message {value}").into());
                }
                (at + 1, payload)
            }
            None if variant != RawVariant::Bare => (0, dir.words.len()),
            None => (0, 0),
        };
        if words > 0 {
            let payload = dir.words[first].load(Ordering::Relaxed);
            let mut sum = payload;
            for w in &dir.words[first + 1..first + words] {
                sum = sum.wrapping_add(w.load(Ordering::Relaxed));
            }
            std::hint::black_box(sum);
            if payload != value {
                return Err(format!("raw ping-pong: payload {payload} for message {value}").into());
            }
        }
        if !matches!(variant, RawVariant::Bare | RawVariant::Release) {
            // The receiver's "I am done with it" (memlink's `advance`).
            dir.head.store(value, Ordering::SeqCst);
            std::hint::black_box(dir.parked_by_sender.load(Ordering::SeqCst));
        }
        Ok(value)
    }
}

/// Raw ping-pong, measuring side.
pub(crate) fn pingpong(ctx: &Ctx, variant: RawVariant) -> Result<Latency> {
    let name = unique_name("raw");
    let mapping = Mapping::create(&name, SIZE)?;
    let view = mapping.view_all()?;
    let mut lines = RawLines::new(&view, variant)?;
    let peer = ctx.spawn(
        &["raw-echo".into(), name.clone(), variant.as_str().into()],
        0,
    )?;
    let mut value = 0u64;
    let h = stats::round_trips(ctx.budget, || {
        value += 1;
        lines.send(0, value);
        lines.recv(1, value).map(|_| ())
    })?;
    lines.dirs[0].flag.store(STOP, Ordering::SeqCst);
    peer.finish()?;
    Ok(Latency::from_round_trips(&h))
}

/// Raw ping-pong, answering side.
pub(crate) fn echo(name: &str, variant: RawVariant) -> Result<()> {
    let mapping = Mapping::open(name)?;
    let view = mapping.view_all()?;
    let mut lines = RawLines::new(&view, variant)?;
    let mut expected = 1;
    loop {
        let value = lines.recv(0, expected)?;
        if value == STOP {
            return Ok(());
        }
        lines.send(1, value);
        expected += 1;
    }
}
