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
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use memlink::Mapping;
use rustix::thread::futex;

use crate::error::Result;
use crate::harness::{expect_count, in_process_rate, read_stamp, stamp, Ctx};
use crate::process::{unique_name, PEER_DEADLINE};
use crate::stats::{self, Latency, Throughput};

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
    let mapping = Mapping::create(&name, 4096)?;
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

/// Sends a message and reads one back, on any byte stream.
fn stream_round(w: &mut impl Write, r: &mut impl Read, out: &[u8], back: &mut [u8]) -> Result<()> {
    w.write_all(out)?;
    r.read_exact(back)?;
    Ok(())
}

/// Unix socket ping-pong, measuring side.
pub(crate) fn unix_pingpong(ctx: &Ctx, size: usize) -> Result<Latency> {
    let listener = Listener::bind()?;
    let peer = ctx.spawn(&["unix-echo".into(), listener.path(), size.to_string()], 0)?;
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
    let mut peer = ctx.spawn(&["unix-sink".into(), listener.path(), size.to_string()], 0)?;
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
