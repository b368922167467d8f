//! The yardsticks: what the hardware and the OS do without memlink.
//!
//! * raw cache-line ping-pong: two processes spinning on atomics in a
//!   memlink mapping, nothing else. No IPC over shared memory can beat it.
//! * futex ping-pong: the same, but each side sleeps in the kernel and is
//!   woken; the limit of any blocking wait.
//! * Unix stream socket and pipe: what the OS offers, one `write` and one
//!   `read` per message.
//! * memcpy of 1 MiB in one process: the limit of copying.
//!
//! Each function here has its two halves: the measuring side (run in the
//! benchmark process) and the answering side (run by `memlink-bench peer`).

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use memlink::{Mapping, View};
use rustix::thread::futex;

use crate::cases::Ctx;
use crate::process::{unique_name, Peer, PEER_DEADLINE};
use crate::stats::{self, Latency, Throughput};
use crate::Result;

/// What the raw ping-pong carries. `Bare` is the hardware limit; the other
/// two rebuild, by hand, what a 64-byte channel message costs, to split
/// memlink's overhead into "moving the bytes" and "the publication protocol".
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RawVariant {
    /// One counter per direction, each on its own cache line.
    Bare,
    /// A 64-byte payload (8 relaxed word stores, as memlink copies) on its
    /// own line, then a Release store of the counter.
    Release,
    /// As `Release`, but published the way memlink's channel does it: a
    /// SeqCst store of the counter followed by a SeqCst load of a "parked"
    /// word (the Dekker handshake with sleepers); the reader also stores its
    /// position SeqCst and loads the other "parked" word.
    Dekker,
}

impl RawVariant {
    pub fn as_str(self) -> &'static str {
        match self {
            RawVariant::Bare => "bare",
            RawVariant::Release => "release",
            RawVariant::Dekker => "dekker",
        }
    }
}

/// The raw ping-pong's words. Direction 0 is benchmark → peer, 1 the way
/// back; each direction's counter, payload, position and "parked" words sit
/// on separate 128-byte blocks (adjacent-line prefetch pairs), as in a
/// channel.
struct RawLines<'a> {
    flag: [&'a AtomicU64; 2],
    payload: [[&'a AtomicU64; 8]; 2],
    head: [&'a AtomicU64; 2],
    parked: [&'a AtomicU64; 2],
    variant: RawVariant,
}

/// Sent instead of a counter: the peer stops.
const STOP: u64 = u64::MAX;
const RAW_SIZE: u64 = 4096;

impl<'a> RawLines<'a> {
    fn new(view: &'a View, variant: RawVariant) -> Result<RawLines<'a>> {
        let word = |offset: usize| view.atomic_u64(offset);
        let base = |d: usize| 1024 * (d + 1);
        let payload = |d: usize| -> Result<[&'a AtomicU64; 8]> {
            let mut words = [word(base(d) + 128)?; 8];
            for (k, w) in words.iter_mut().enumerate() {
                *w = word(base(d) + 128 + 8 * k)?;
            }
            Ok(words)
        };
        Ok(RawLines {
            flag: [word(base(0))?, word(base(1))?],
            payload: [payload(0)?, payload(1)?],
            head: [word(base(0) + 256)?, word(base(1) + 256)?],
            parked: [word(base(0) + 384)?, word(base(1) + 384)?],
            variant,
        })
    }

    /// Publishes `value` in direction `d`.
    fn send(&self, d: usize, value: u64) {
        if self.variant != RawVariant::Bare {
            for (k, w) in self.payload[d].iter().enumerate() {
                // Relaxed: published by the counter store below.
                w.store(value.wrapping_add(k as u64), Ordering::Relaxed);
            }
        }
        if self.variant == RawVariant::Dekker {
            // SeqCst store then SeqCst load: the StoreLoad ordering a sender
            // needs to see a receiver that went to sleep (memlink's publish).
            self.flag[d].store(value, Ordering::SeqCst);
            std::hint::black_box(self.parked[d].load(Ordering::SeqCst));
        } else {
            // Release pairs with the Acquire in `recv`.
            self.flag[d].store(value, Ordering::Release);
        }
    }

    /// Waits for `expected` (or STOP) in direction `d`.
    fn recv(&self, d: usize, expected: u64) -> Result<u64> {
        // Acquire pairs with the Release (or SeqCst) store in `send`.
        let value = spin_until(|| {
            let v = self.flag[d].load(Ordering::Acquire);
            (v == expected || v == STOP).then_some(v)
        })?;
        if value == STOP {
            return Ok(value);
        }
        if self.variant != RawVariant::Bare {
            let first = self.payload[d][0].load(Ordering::Relaxed);
            let mut sum = first;
            for w in &self.payload[d][1..] {
                sum = sum.wrapping_add(w.load(Ordering::Relaxed));
            }
            std::hint::black_box(sum);
            if first != value {
                return Err(format!("raw ping-pong: payload {first} for message {value}").into());
            }
        }
        if self.variant == RawVariant::Dekker {
            // The receiver's "I am done with it" (memlink's `advance`).
            self.head[d].store(value, Ordering::SeqCst);
            std::hint::black_box(self.parked[1 - d].load(Ordering::SeqCst));
        }
        Ok(value)
    }
}

/// Spins (with the CPU's pause hint, as memlink's spin loop does) until
/// `ready` gives a value; fails after [`PEER_DEADLINE`] without one.
fn spin_until<T>(mut ready: impl FnMut() -> Option<T>) -> Result<T> {
    let mut spins = 0u32;
    let mut started = None;
    loop {
        if let Some(v) = ready() {
            return Ok(v);
        }
        std::hint::spin_loop();
        spins = spins.wrapping_add(1);
        if spins % (1 << 16) == 0 {
            let t = *started.get_or_insert_with(Instant::now);
            if t.elapsed() > PEER_DEADLINE {
                return Err("the other process stopped answering".into());
            }
        }
    }
}

/// Raw cache-line ping-pong, measuring side.
pub(crate) fn raw_pingpong(ctx: &Ctx, variant: RawVariant) -> Result<Latency> {
    let name = unique_name("raw");
    let mapping = Mapping::create(&name, RAW_SIZE)?;
    let view = mapping.view_all()?;
    let lines = RawLines::new(&view, variant)?;
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
    lines.flag[0].store(STOP, Ordering::SeqCst);
    peer.finish()?;
    Ok(Latency::from_round_trips(&h))
}

/// Raw cache-line ping-pong, answering side.
pub(crate) fn raw_echo(name: &str, variant: RawVariant) -> Result<()> {
    let mapping = Mapping::open(name)?;
    let view = mapping.view_all()?;
    let lines = RawLines::new(&view, variant)?;
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

/// The futex word's protocol: the benchmark stores odd values, the peer
/// answers with the next even one; each side sleeps in `FUTEX_WAIT` until
/// the word moves and wakes the other with `FUTEX_WAKE` after each store.
const FUTEX_STOP: u32 = u32::MAX;

fn futex_wait_while(word: &AtomicU32, value: u32) -> Result<u32> {
    let slice = futex::Timespec {
        tv_sec: 0,
        tv_nsec: 100_000_000,
    };
    let deadline = Instant::now() + PEER_DEADLINE;
    loop {
        // Acquire pairs with the other side's Release store.
        let now = word.load(Ordering::Acquire);
        if now != value {
            return Ok(now);
        }
        // EAGAIN (moved already), EINTR, ETIMEDOUT: look again.
        let _ = futex::wait(word, futex::Flags::empty(), value, Some(&slice));
        if Instant::now() >= deadline {
            return Err("the other process stopped waking us".into());
        }
    }
}

fn futex_store_wake(word: &AtomicU32, value: u32) {
    // Release pairs with the Acquire in `futex_wait_while`.
    word.store(value, Ordering::Release);
    let _ = futex::wake(word, futex::Flags::empty(), 1);
}

/// Futex ping-pong, measuring side.
pub(crate) fn futex_pingpong(ctx: &Ctx) -> Result<Latency> {
    let name = unique_name("futex");
    let mapping = Mapping::create(&name, RAW_SIZE)?;
    let view = mapping.view_all()?;
    let word = view.atomic_u32(0)?;
    let peer = ctx.spawn(&["futex-echo".into(), name.clone()], 0)?;
    let mut value = 0u32;
    let h = stats::round_trips(ctx.budget, || {
        value = value.wrapping_add(2) % (FUTEX_STOP - 1);
        let odd = value | 1;
        futex_store_wake(word, odd);
        let answer = futex_wait_while(word, odd)?;
        if answer != odd.wrapping_add(1) {
            return Err(format!("futex ping-pong: {answer} after {odd}").into());
        }
        Ok(())
    })?;
    futex_store_wake(word, FUTEX_STOP);
    peer.finish()?;
    Ok(Latency::from_round_trips(&h))
}

/// Futex ping-pong, answering side.
pub(crate) fn futex_echo(name: &str) -> Result<()> {
    let mapping = Mapping::open(name)?;
    let view = mapping.view_all()?;
    let word = view.atomic_u32(0)?;
    let mut seen = 0;
    loop {
        let value = futex_wait_while(word, seen)?;
        if value == FUTEX_STOP {
            return Ok(());
        }
        if value % 2 == 1 {
            seen = value.wrapping_add(1);
            futex_store_wake(word, seen);
        } else {
            seen = value;
        }
    }
}

/// A listening socket in the temporary directory, removed on drop.
struct Listener {
    listener: UnixListener,
    path: PathBuf,
}

impl Listener {
    fn bind() -> Result<Listener> {
        let path = std::env::temp_dir().join(format!("{}.sock", unique_name("unix")));
        let listener = UnixListener::bind(&path)?;
        listener.set_nonblocking(true)?;
        Ok(Listener { listener, path })
    }

    fn path(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }

    /// Accepts the peer's connection, waiting at most [`PEER_DEADLINE`].
    fn accept(&self) -> Result<UnixStream> {
        let deadline = Instant::now() + PEER_DEADLINE;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false)?;
                    return Ok(stream);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err(e) => return Err(format!("no peer connected: {e}").into()),
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A message of `size` bytes whose first 8 bytes (when it has them) carry
/// `seq`, so receivers can check that nothing is lost or reordered.
pub(crate) fn stamp(buf: &mut [u8], seq: u64) {
    if buf.len() >= 8 {
        buf[..8].copy_from_slice(&seq.to_le_bytes());
    }
}

/// The stamp of a received message.
pub(crate) fn read_stamp(buf: &[u8]) -> Option<u64> {
    buf.get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
}

/// Sends a message and reads one back, on any byte stream.
fn stream_round(w: &mut impl Write, r: &mut impl Read, out: &[u8], back: &mut [u8]) -> Result<()> {
    w.write_all(out)?;
    r.read_exact(back)?;
    Ok(())
}

/// Unix socket ping-pong, measuring side.
pub(crate) fn unix_pingpong(ctx: &Ctx, size: usize) -> Result<Latency> {
    let listener = Listener::bind()?;
    let peer = ctx.spawn(
        &["unix-echo".into(), listener.path(), size.to_string()],
        0,
    )?;
    let mut stream = listener.accept()?;
    let mut reader = stream.try_clone()?;
    let out = vec![1u8; size];
    let mut back = vec![0u8; size];
    let h = stats::round_trips(ctx.budget, || {
        stream_round(&mut stream, &mut reader, &out, &mut back)
    })?;
    drop((stream, reader));
    peer.finish()?;
    Ok(Latency::from_round_trips(&h))
}

/// Echoes fixed-size messages until end of stream.
fn echo_stream(r: &mut impl Read, w: &mut impl Write, size: usize) -> Result<()> {
    let mut buf = vec![0u8; size];
    loop {
        match r.read_exact(&mut buf) {
            Ok(()) => w.write_all(&buf)?,
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Counts fixed-size messages until end of stream, checking their stamps.
fn count_stream(r: &mut impl Read, size: usize) -> Result<u64> {
    let mut buf = vec![0u8; size];
    let mut count = 0u64;
    loop {
        match r.read_exact(&mut buf) {
            Ok(()) => {
                if let Some(seq) = read_stamp(&buf) {
                    if seq != count {
                        return Err(format!("message {seq} arrived as number {count}").into());
                    }
                }
                count += 1;
            }
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(count),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Unix socket ping-pong, answering side.
pub(crate) fn unix_echo(path: &str, size: usize) -> Result<()> {
    let mut stream = UnixStream::connect(path)?;
    let mut reader = stream.try_clone()?;
    echo_stream(&mut reader, &mut stream, size)
}

/// Unix socket one-way throughput, measuring (sending) side.
pub(crate) fn unix_stream(ctx: &Ctx, size: usize) -> Result<Throughput> {
    let listener = Listener::bind()?;
    let mut peer = ctx.spawn(
        &["unix-sink".into(), listener.path(), size.to_string()],
        0,
    )?;
    let mut stream = listener.accept()?;
    let mut msg = vec![1u8; size];
    let streamed = stats::stream(ctx.budget, size, |seq| {
        stamp(&mut msg, seq);
        stream.write_all(&msg)?;
        Ok(())
    })?;
    stream.shutdown(std::net::Shutdown::Write)?;
    expect_count(&mut peer, streamed.total)?;
    let t = streamed.done();
    peer.finish()?;
    Ok(t)
}

/// Checks the count a sink reports.
pub(crate) fn expect_count(peer: &mut Peer, total: u64) -> Result<()> {
    let got = peer.count()?;
    if got != total {
        return Err(format!("sent {total} messages, the receiver got {got}").into());
    }
    Ok(())
}

/// Unix socket throughput, receiving side.
pub(crate) fn unix_sink(path: &str, size: usize) -> Result<()> {
    let mut stream = UnixStream::connect(path)?;
    let count = count_stream(&mut stream, size)?;
    println!("{count}");
    Ok(())
}

/// Our stdin and stdout as plain files: `std::io::Stdout` is line-buffered
/// (it would split binary messages at newline bytes) and `Stdin` buffers,
/// and the baseline is one `read` and one `write` per message.
fn raw_stdio() -> Result<(File, File)> {
    let stdin = File::from(std::io::stdin().as_fd().try_clone_to_owned()?);
    let stdout = File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
    Ok((stdin, stdout))
}

/// Pipe ping-pong, measuring side: the peer's stdin and stdout are the two
/// pipes.
pub(crate) fn pipe_pingpong(ctx: &Ctx, size: usize) -> Result<Latency> {
    let mut peer = ctx.spawn(&["pipe-echo".into(), size.to_string()], 0)?;
    let mut to = peer.take_stdin()?;
    let mut from = peer.take_stdout()?;
    let out = vec![1u8; size];
    let mut back = vec![0u8; size];
    let h = stats::round_trips(ctx.budget, || {
        stream_round(&mut to, &mut from, &out, &mut back)
    })?;
    drop(to);
    peer.finish()?;
    Ok(Latency::from_round_trips(&h))
}

/// Pipe ping-pong, answering side.
pub(crate) fn pipe_echo(size: usize) -> Result<()> {
    let (mut stdin, mut stdout) = raw_stdio()?;
    echo_stream(&mut stdin, &mut stdout, size)
}

/// Pipe one-way throughput, measuring (writing) side.
pub(crate) fn pipe_stream(ctx: &Ctx, size: usize) -> Result<Throughput> {
    let mut peer = ctx.spawn(&["pipe-sink".into(), size.to_string()], 0)?;
    let mut to = peer.take_stdin()?;
    let mut msg = vec![1u8; size];
    let streamed = stats::stream(ctx.budget, size, |seq| {
        stamp(&mut msg, seq);
        to.write_all(&msg)?;
        Ok(())
    })?;
    drop(to);
    expect_count(&mut peer, streamed.total)?;
    let t = streamed.done();
    peer.finish()?;
    Ok(t)
}

/// Pipe throughput, reading side.
pub(crate) fn pipe_sink(size: usize) -> Result<()> {
    let (mut stdin, mut stdout) = raw_stdio()?;
    let count = count_stream(&mut stdin, size)?;
    writeln!(stdout, "{count}")?;
    Ok(())
}

/// memcpy bandwidth: copying 1 MiB within one process, the same buffers
/// again and again (they stay in the L2/L3 cache, as a ring that the peer
/// keeps up with does).
pub(crate) fn memcpy(ctx: &Ctx, size: usize) -> Result<Throughput> {
    let src = vec![0x5au8; size];
    let mut dst = vec![0u8; size];
    in_process_rate(ctx, size, || {
        dst.copy_from_slice(std::hint::black_box(&src));
        std::hint::black_box(&mut dst);
    })
}

/// Runs `op` (which moves `size` bytes) for the warm-up and then the
/// measured time; the rate in operations and bytes per second.
pub(crate) fn in_process_rate(ctx: &Ctx, size: usize, mut op: impl FnMut()) -> Result<Throughput> {
    let start = Instant::now();
    while start.elapsed() < ctx.budget.warmup {
        op();
    }
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed() < ctx.budget.measure || n < 4 {
        op();
        n += 1;
    }
    Ok(Throughput::new(n, size, t0.elapsed()))
}
