//! What waiting on many channels costs when nothing happens, and what
//! watching busy channels costs their senders (issue 15).
//!
//! * **Idle CPU**: the process's CPU time (`CLOCK_PROCESS_CPUTIME_ID`, the
//!   figure `getrusage` sums) per 50 ms window spent waiting on 64 idle
//!   channels, through a [`WaitSet`] and, as the baseline, by busy-polling
//!   `try_recv` over them. Reported as a duration per window: CPU time, not
//!   latency.
//! * **Watch cost**: 64-byte messages sent round-robin to 16 channels that
//!   one peer drains, with and without a second peer that samples every
//!   channel's counters through `ChannelOptions::inspect` (what `memlink
//!   watch` calls) at 10 Hz, ten times `memlink watch`'s rate, so the cost
//!   it shows bounds watch's from above; and at watch's own 1 Hz in the
//!   paired rounds of [`crate::watchcost`].
//!
//! The answering halves (`multi-sink`, `watcher`) run as `memlink-bench
//! peer` roles.

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use memlink::channel::{ChannelOptions, Readiness, Receiver, Sender, TryRecvError, WaitSet};
use rustix::time::{clock_gettime, ClockId};

use crate::error::Result;
use crate::harness::{expect_count, Ctx};
use crate::process::unique_name;
use crate::stats::{self, Latency, Throughput};

/// Channels waited on in the idle-CPU cases.
const IDLE: usize = 64;
/// One measured window of the idle-CPU cases.
const WINDOW: Duration = Duration::from_millis(50);
/// Channels sent to in the watch-cost cases.
const BUSY: usize = 16;
/// How often the watcher of the `16ch.watched` case samples (ten times
/// `memlink watch`'s once a second).
pub(crate) const WATCH_HZ: u32 = 10;

/// How the idle-CPU case waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdleWait {
    /// One `WaitSet::wait` over the channels and a deadline at the window's
    /// end.
    WaitSet,
    /// `try_recv` on each channel in turn until the window ends.
    BusyPoll,
}

fn cpu_time() -> Duration {
    let t = clock_gettime(ClockId::ProcessCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// CPU time of the process per [`WINDOW`] spent waiting on [`IDLE`] idle
/// channels (a distribution over the windows of the measured time).
pub(crate) fn idle_cpu(ctx: &Ctx, how: IdleWait) -> Result<Latency> {
    let mut options = ChannelOptions::new();
    options.capacity(4096).max_message(64);
    let mut senders: Vec<Sender> = Vec::with_capacity(IDLE);
    let mut receivers: Vec<Receiver> = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        let name = unique_name("idle");
        senders.push(options.create_sender(&name)?);
        receivers.push(Receiver::open(&name)?);
    }
    let mut buf = Vec::new();
    let mut window = |receivers: &mut [Receiver]| -> Result<Duration> {
        let before = cpu_time();
        let end = Instant::now() + WINDOW;
        match how {
            IdleWait::WaitSet => {
                let mut set = WaitSet::with_capacity(IDLE + 1);
                for rx in receivers.iter() {
                    set.add_receiver(rx);
                }
                let deadline = set.add_deadline(end);
                let ready = set.wait(None);
                match ready.first() {
                    Some(r) if r.token == deadline && r.readiness == Readiness::Deadline => {}
                    other => return Err(format!("an idle set woke for {other:?}").into()),
                }
            }
            IdleWait::BusyPoll => {
                while Instant::now() < end {
                    for rx in receivers.iter_mut() {
                        match rx.try_recv(&mut buf) {
                            Err(TryRecvError::Empty) => {}
                            other => return Err(format!("an idle channel said {other:?}").into()),
                        }
                    }
                }
            }
        }
        Ok(cpu_time().saturating_sub(before))
    };
    let warm_until = Instant::now() + ctx.budget.warmup;
    while Instant::now() < warm_until {
        window(&mut receivers)?;
    }
    let mut h = stats::histogram();
    let end = Instant::now() + ctx.budget.measure.max(WINDOW);
    while Instant::now() < end {
        let used = window(&mut receivers)?;
        h.record(u64::try_from(used.as_nanos()).unwrap_or(u64::MAX).max(1))?;
    }
    drop(senders);
    Ok(Latency::from_durations(&h))
}

/// What a sampling peer reports once stopped.
#[derive(Debug, Clone)]
pub(crate) struct Sampled {
    /// Samples of every channel taken.
    pub samples: u64,
    /// Time spent taking them (the sampler's busy time, on the sink's core).
    pub busy: Duration,
    /// When each sample began and ended ([`mono_ns`], comparable between
    /// the processes).
    pub spans: Vec<(u64, u64)>,
}

/// One run of [`watch_cost`].
pub(crate) struct WatchRun {
    pub throughput: Throughput,
    /// The sampler's report (watched runs).
    pub sampled: Option<Sampled>,
    /// With `marks`: ([`mono_ns`], messages sent before it) every
    /// [`MARK_EVERY`] messages, warm-up included.
    pub marks: Vec<(u64, u64)>,
}

/// How often the sender notes the time, in messages, when asked to.
pub(crate) const MARK_EVERY: u64 = 256;

/// `CLOCK_MONOTONIC` in nanoseconds: one clock for every process of the
/// machine, so the sender's marks and the sampler's spans line up.
pub(crate) fn mono_ns() -> u64 {
    let t = clock_gettime(ClockId::Monotonic);
    u64::try_from(t.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(t.tv_nsec).unwrap_or(0))
}

/// Send throughput of 64-byte messages round-robin over [`BUSY`] channels
/// drained by one peer, with (`watch_hz`) or without a second peer sampling
/// them all at that rate (`Some(0)`: the second peer is there but never
/// samples); with what the sampler reports.
///
/// Placement on two cores: this process (the 16 senders, one thread) on the
/// benchmark's core, the sink (the 16 receivers, one thread) and the
/// sampler on the peer core, as `memlink watch` would share a core with
/// some endpoint on a two-core machine.
///
/// With `marks`, the sender also notes the time every [`MARK_EVERY`]
/// messages (a vDSO clock read: a few ns a message), so that the messages
/// sent around each sample can be compared with those just before and
/// after it.
pub(crate) fn watch_cost(ctx: &Ctx, watch_hz: Option<u32>, marks: bool) -> Result<WatchRun> {
    const SIZE: usize = 64;
    let names: Vec<String> = (0..BUSY).map(|_| unique_name("busy")).collect();
    let mut options = ChannelOptions::new();
    options.capacity(64 * 1024).max_message(SIZE as u32);
    let mut senders = names
        .iter()
        .map(|n| options.create_sender(n))
        .collect::<memlink::Result<Vec<Sender>>>()?;
    let mut args = vec!["multi-sink".to_string()];
    args.extend(names.iter().cloned());
    let mut sink = ctx.spawn(&args, 0)?;
    for tx in &senders {
        tx.wait_for_receiver(Duration::from_secs(10))?;
    }
    let watcher = match watch_hz {
        Some(hz) => {
            let mut args = vec!["watcher".to_string(), "--hz".into(), hz.to_string()];
            args.extend(names.iter().cloned());
            let mut watcher = ctx.spawn(&args, 1)?;
            if watcher.line()? != "watching" {
                return Err("the watcher did not start".into());
            }
            Some(watcher)
        }
        None => None,
    };
    let msg = [5u8; SIZE];
    let mut noted = Vec::with_capacity(if marks { 1 << 18 } else { 0 });
    let streamed = stats::stream(ctx.budget, SIZE, |seq| {
        if marks && seq.is_multiple_of(MARK_EVERY) {
            noted.push((mono_ns(), seq));
        }
        senders[seq as usize % BUSY].send(&msg)?;
        Ok(())
    })?;
    for tx in &mut senders {
        tx.send(&[])?;
    }
    expect_count(&mut sink, streamed.total)?;
    let throughput = streamed.done();
    sink.finish()?;
    let sampled = match watcher {
        Some(mut watcher) => {
            drop(watcher.take_stdin()?);
            let line = watcher.line()?;
            let sampled =
                parse_sampled(&line).ok_or_else(|| format!("the watcher reported {line:?}"))?;
            if sampled.samples == 0 && watch_hz != Some(0) {
                return Err("the watcher took no sample".into());
            }
            watcher.finish()?;
            Some(sampled)
        }
        None => None,
    };
    Ok(WatchRun {
        throughput,
        sampled,
        marks: noted,
    })
}

/// `"<samples> <busy ns> <start>-<end>..."`, the watcher's last line.
fn parse_sampled(line: &str) -> Option<Sampled> {
    let mut words = line.split_whitespace();
    let samples = words.next()?.parse().ok()?;
    let busy = Duration::from_nanos(words.next()?.parse().ok()?);
    let spans = words
        .map(|w| {
            let (a, b) = w.split_once('-')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .collect::<Option<Vec<(u64, u64)>>>()?;
    Some(Sampled {
        samples,
        busy,
        spans,
    })
}

/// Peer of [`watch_cost`]: drains every channel until each has sent an
/// empty message, waiting through a [`WaitSet`] when all are empty; prints
/// the count.
pub(crate) fn multi_sink(names: &[String]) -> Result<()> {
    let mut receivers = names
        .iter()
        .map(|n| Receiver::open(n))
        .collect::<memlink::Result<Vec<Receiver>>>()?;
    let mut open = vec![true; receivers.len()];
    let mut count = 0u64;
    let mut buf = Vec::new();
    while open.iter().any(|o| *o) {
        let mut any = false;
        for (rx, open) in receivers.iter_mut().zip(open.iter_mut()) {
            if !*open {
                continue;
            }
            match rx.try_recv(&mut buf) {
                Ok(0) => *open = false,
                Ok(_) => {
                    count += 1;
                    any = true;
                }
                Err(TryRecvError::Empty) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if !any && open.iter().any(|o| *o) {
            let mut set = WaitSet::with_capacity(receivers.len());
            for (rx, _) in receivers.iter().zip(&open).filter(|(_, o)| **o) {
                set.add_receiver(rx);
            }
            if set.wait(Some(Duration::from_secs(30))).is_empty() {
                return Err("no message for 30 s".into());
            }
        }
    }
    println!("{count}");
    Ok(())
}

/// Peer of [`watch_cost`]: samples every channel's counters `hz` times a
/// second, through the call `memlink watch` makes once a second
/// (`ChannelOptions::inspect`, foreign owners allowed), until its stdin
/// closes; prints how many samples it took, the nanoseconds it spent
/// taking them, and when each began and ended ([`mono_ns`]).
///
/// At `hz` 0 it takes no sample: it is only there, so that a run without
/// samples has the same processes on the same cores as one with them.
pub(crate) fn watcher(names: &[String], hz: u32) -> Result<()> {
    if hz == 0 {
        println!("watching");
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        println!("0 0");
        return Ok(());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        // Relaxed: a flag with no data behind it; the loop only needs to
        // see it eventually.
        stopping.store(true, Ordering::Relaxed);
    });
    println!("watching");
    let mut samples = 0u64;
    let mut busy = Duration::ZERO;
    let mut set = WaitSet::new();
    set.add_interval(Duration::from_secs(1) / hz);
    let mut options = ChannelOptions::new();
    options.allow_foreign_owner(true);
    let mut spans = String::new();
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        let began = mono_ns();
        for name in names {
            let info = options.inspect(name)?;
            std::hint::black_box(&info);
        }
        busy += t.elapsed();
        spans.push_str(&format!(" {began}-{}", mono_ns()));
        samples += 1;
        set.wait(None);
    }
    println!("{samples} {}{spans}", busy.as_nanos());
    Ok(())
}
