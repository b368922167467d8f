//! memlink itself: channel ping-pong latency, one-way throughput by copy
//! and by loan/borrow, broadcast fan-out, and the cost of creating, opening
//! and mapping.
//!
//! As in [`crate::baselines`], each measuring function has its answering
//! half here, run by `memlink-bench peer`.

use std::time::Instant;

use clap::ValueEnum;
use memlink::channel::{ChannelOptions, Kind, Readiness, Receiver, Sender, TryRecvError, WaitSet};
use memlink::Mapping;

use crate::error::Result;
use crate::harness::Ctx;
use crate::harness::{expect_count, read_stamp, stamp};
use crate::process::{unique_name, Peer};
use crate::stats::{self, Latency, Throughput};

/// The wait strategies the latency cases compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Wait {
    /// `WaitStrategy::Spin`.
    Spin,
    /// `WaitStrategy::default()`: spin 50 µs, then park.
    Default,
    /// `WaitStrategy::Park`.
    Park,
}

impl Wait {
    /// The library's strategy.
    pub fn strategy(self) -> memlink::channel::WaitStrategy {
        use memlink::channel::WaitStrategy;
        match self {
            Wait::Spin => WaitStrategy::Spin,
            Wait::Default => WaitStrategy::default(),
            Wait::Park => WaitStrategy::Park,
        }
    }

    /// The name used in keys, titles and on the peer's command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Wait::Spin => "spin",
            Wait::Default => "default",
            Wait::Park => "park",
        }
    }
}

/// Ring size for messages of `size` bytes: at least 64 KiB (the library's
/// default), and room for four of the largest records, so that the sender
/// can run ahead of the receiver by a few messages.
pub(crate) const fn capacity_for(size: usize) -> u64 {
    let record = (size as u64 + 8 + 7) & !7;
    let capacity = record.next_power_of_two() * 4;
    if capacity > 64 * 1024 {
        capacity
    } else {
        64 * 1024
    }
}

fn options(size: usize, wait: Wait) -> ChannelOptions {
    let mut options = ChannelOptions::new();
    options
        .capacity(capacity_for(size))
        .max_message(size.max(8) as u32)
        .wait(wait.strategy());
    options
}

/// Ping-pong over two one-to-one channels (there and back), measuring side:
/// `send` + `recv_into`, both sides with the same wait strategy.
pub(crate) fn pingpong(ctx: &Ctx, size: usize, wait: Wait) -> Result<Latency> {
    let there = unique_name("ping");
    let back = unique_name("pong");
    let opts = options(size, wait);
    let mut tx = opts.create_sender(&there)?;
    let mut rx = opts.create_receiver(&back)?;
    let peer = ctx.spawn(
        &[
            "channel-echo".into(),
            there.clone(),
            back.clone(),
            wait.as_str().into(),
        ],
        0,
    )?;
    let msg = vec![7u8; size];
    let mut buf = Vec::with_capacity(size);
    let h = stats::round_trips(ctx.budget, || {
        tx.send(&msg)?;
        let n = rx.recv_into(&mut buf)?;
        if n != size {
            return Err(format!("sent {size} bytes, {n} came back").into());
        }
        Ok(())
    })?;
    // An empty message tells the peer to stop.
    tx.send(&[])?;
    peer.finish()?;
    Ok(Latency::from_round_trips(&h))
}

/// Ping-pong as [`pingpong`] with [`Wait::Park`], the measuring side
/// waiting for each reply through a [`WaitSet`] over `idle` idle channels
/// and the reply channel (built for every wait, as a program would), then
/// `try_recv`: what waiting on many channels costs against one.
pub(crate) fn pingpong_waitset(ctx: &Ctx, size: usize, idle: usize) -> Result<Latency> {
    let there = unique_name("ping");
    let back = unique_name("pong");
    let opts = options(size, Wait::Park);
    let mut tx = opts.create_sender(&there)?;
    let mut rx = opts.create_receiver(&back)?;
    let mut idle_senders = Vec::with_capacity(idle);
    let mut idle_receivers = Vec::with_capacity(idle);
    for _ in 0..idle {
        let name = unique_name("idle");
        idle_senders.push(opts.create_sender(&name)?);
        idle_receivers.push(Receiver::open(&name)?);
    }
    let peer = ctx.spawn(
        &[
            "channel-echo".into(),
            there.clone(),
            back.clone(),
            Wait::Park.as_str().into(),
        ],
        0,
    )?;
    let msg = vec![7u8; size];
    let mut buf = Vec::with_capacity(size);
    let h = stats::round_trips(ctx.budget, || {
        tx.send(&msg)?;
        loop {
            {
                let mut set = WaitSet::with_capacity(idle + 1);
                for idle in &idle_receivers {
                    set.add_receiver(idle);
                }
                let reply = set.add_receiver(&rx);
                let ready = set.wait(Some(std::time::Duration::from_secs(10)));
                match ready.first() {
                    Some(r) if r.token == reply && r.readiness == Readiness::Readable => {}
                    other => return Err(format!("the wait set woke for {other:?}").into()),
                }
            }
            match rx.try_recv(&mut buf) {
                Ok(n) if n == size => return Ok(()),
                Ok(n) => return Err(format!("sent {size} bytes, {n} came back").into()),
                // Padding before the reply: look again.
                Err(TryRecvError::Empty) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    })?;
    tx.send(&[])?;
    peer.finish()?;
    drop(idle_senders);
    Ok(Latency::from_round_trips(&h))
}

/// Ping-pong, answering side: echoes until an empty message.
pub(crate) fn echo(input: &str, output: &str, wait: Wait) -> Result<()> {
    let mut opts = ChannelOptions::new();
    opts.wait(wait.strategy());
    let mut rx = opts.open_receiver(input)?;
    let mut tx = opts.open_sender(output)?;
    let mut buf = Vec::new();
    loop {
        if rx.recv_into(&mut buf)? == 0 {
            return Ok(());
        }
        tx.send(&buf)?;
    }
}

/// How the sender of a stream writes each message.
fn send_stamped(tx: &mut Sender, msg: &mut [u8], seq: u64, zero_copy: bool) -> Result<()> {
    if zero_copy {
        // Zero-copy: only the 8-byte stamp is written into the loaned
        // place; the rest of the message is whatever the ring holds.
        let mut loan = tx.loan(msg.len())?;
        loan.write_at(0, &seq.to_le_bytes())?;
        loan.commit();
    } else {
        stamp(msg, seq);
        tx.send(msg)?;
    }
    Ok(())
}

/// One-way throughput, measuring (sending) side. Copy: `send` and
/// `recv_into` of the whole message. Zero-copy: `loan` + an 8-byte stamp +
/// `commit`, and `recv_borrow` + reading the stamp.
pub(crate) fn stream(ctx: &Ctx, size: usize, zero_copy: bool) -> Result<Throughput> {
    let name = unique_name("stream");
    let mut tx = options(size, Wait::Default).create_sender(&name)?;
    let mut args = vec!["channel-sink".to_string(), name.clone()];
    if zero_copy {
        args.push("--zero-copy".into());
    }
    let mut peer = ctx.spawn(&args, 0)?;
    let mut msg = vec![3u8; size];
    let streamed = stats::stream(ctx.budget, size, |seq| {
        send_stamped(&mut tx, &mut msg, seq, zero_copy)
    })?;
    tx.send(&[])?;
    expect_count(&mut peer, streamed.total)?;
    let t = streamed.done();
    peer.finish()?;
    Ok(t)
}

/// Broadcast of `size`-byte messages to `readers` peer processes, each
/// receiving by copy. Throughput is the sender's rate once every reader has
/// confirmed every message (each message reaches all readers).
pub(crate) fn broadcast(ctx: &Ctx, size: usize, readers: usize) -> Result<Throughput> {
    let name = unique_name("bcast");
    let mut opts = options(size, Wait::Default);
    opts.kind(Kind::Broadcast).max_receivers(readers as u32);
    let mut tx = opts.create_sender(&name)?;
    let mut peers: Vec<Peer> = (0..readers)
        .map(|i| {
            ctx.spawn(
                &["channel-sink".into(), name.clone(), "--announce".into()],
                i,
            )
        })
        .collect::<Result<_>>()?;
    // A broadcast reader gets the messages sent after it attached: wait for
    // all of them before the first one.
    for peer in &mut peers {
        let line = peer.line()?;
        if line != "ready" {
            return Err(format!("broadcast reader said {line:?}").into());
        }
    }
    let mut msg = vec![5u8; size];
    let streamed = stats::stream(ctx.budget, size, |seq| {
        send_stamped(&mut tx, &mut msg, seq, false)
    })?;
    tx.send(&[])?;
    for peer in &mut peers {
        expect_count(peer, streamed.total)?;
    }
    let t = streamed.done();
    for peer in peers {
        peer.finish()?;
    }
    Ok(t)
}

/// Throughput and broadcast, receiving side: counts messages until an empty
/// one, checking their stamps, and prints the count.
pub(crate) fn sink(name: &str, zero_copy: bool, announce: bool) -> Result<()> {
    let mut rx = Receiver::open(name)?;
    if announce {
        println!("ready");
    }
    let mut count = 0u64;
    let mut buf = Vec::new();
    loop {
        let seq = if zero_copy {
            let message = rx.recv_borrow()?;
            if message.is_empty() {
                break;
            }
            let mut stamp = [0u8; 8];
            message.read_at(0, &mut stamp)?;
            u64::from_le_bytes(stamp)
        } else {
            if rx.recv_into(&mut buf)? == 0 {
                break;
            }
            read_stamp(&buf).unwrap_or(count)
        };
        if seq != count {
            return Err(format!("message {seq} arrived as number {count}").into());
        }
        count += 1;
    }
    println!("{count}");
    Ok(())
}

/// What a setup-cost case times.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Setup {
    /// `Mapping::create` (1 MiB) + `view_all`.
    MappingCreate,
    /// `Mapping::open` + `view_all` of an existing 1 MiB mapping.
    MappingOpen,
    /// `ChannelOptions::create_sender` (64 KiB ring).
    ChannelCreate,
    /// `Receiver::open` of an existing channel.
    ChannelOpen,
}

/// Times one setup operation `ctx.budget.setup_iterations` times, in this
/// process (these are system calls, not IPC). Closing is not timed.
pub(crate) fn setup(ctx: &Ctx, what: Setup) -> Result<Latency> {
    const SIZE: u64 = 1 << 20;
    let mut h = stats::histogram();
    let mut record = |t: Instant| {
        h.saturating_record((t.elapsed().as_nanos() as u64).max(1));
    };
    let existing = unique_name("setup");
    // Keeps the object that the "open" cases open alive.
    let _keep: (Option<Mapping>, Option<Sender>) = match what {
        Setup::MappingOpen => (Some(Mapping::create(&existing, SIZE)?), None),
        Setup::ChannelOpen => (None, Some(ChannelOptions::new().create_sender(&existing)?)),
        _ => (None, None),
    };
    for _ in 0..ctx.budget.setup_iterations.max(1) {
        match what {
            Setup::MappingCreate => {
                let name = unique_name("create");
                let t = Instant::now();
                let m = Mapping::create(&name, SIZE)?;
                let v = m.view_all()?;
                record(t);
                drop((v, m));
            }
            Setup::MappingOpen => {
                let t = Instant::now();
                let m = Mapping::open(&existing)?;
                let v = m.view_all()?;
                record(t);
                drop((v, m));
            }
            Setup::ChannelCreate => {
                let name = unique_name("chan");
                let t = Instant::now();
                let tx = ChannelOptions::new().create_sender(&name)?;
                record(t);
                drop(tx);
            }
            Setup::ChannelOpen => {
                let t = Instant::now();
                let rx = Receiver::open(&existing)?;
                record(t);
                drop(rx);
            }
        }
    }
    Ok(Latency::from_durations(&h))
}
