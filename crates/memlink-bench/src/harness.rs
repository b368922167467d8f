//! What every case runs in and with: its context (budget, cores, peer
//! processes), waiting on the other process, stamping messages, and
//! measuring a rate in one process.
//!
//! Every measuring module (`baselines`, `channel`, `raw`, `rawcopy`,
//! `analysis`, `hotpath`) depends on this one, and it on none of them.

use std::time::Instant;

use crate::budget::Budget;
use crate::error::Result;
use crate::pin::Placement;
use crate::process::{Peer, PEER_DEADLINE};
use crate::stats::Throughput;

/// What a running case gets.
pub(crate) struct Ctx<'a> {
    pub budget: &'a Budget,
    pub placement: &'a Placement,
}

impl Ctx<'_> {
    /// Starts peer number `i` of a case with `args` (role and its
    /// arguments), on its core.
    pub fn spawn(&self, args: &[String], i: usize) -> Result<Peer> {
        Peer::spawn(args, self.placement.peer_cpu(i))
    }
}

/// Spins (with the CPU's pause hint, as memlink's spin loop does) until
/// `ready` gives a value; fails after [`PEER_DEADLINE`] without one.
pub(crate) fn spin_until<T>(mut ready: impl FnMut() -> Option<T>) -> Result<T> {
    let mut spins = 0u32;
    let mut started = None;
    loop {
        if let Some(v) = ready() {
            return Ok(v);
        }
        std::hint::spin_loop();
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(1 << 16) {
            let t = *started.get_or_insert_with(Instant::now);
            if t.elapsed() > PEER_DEADLINE {
                return Err("the other process stopped answering".into());
            }
        }
    }
}

/// Checks the count a sink reports.
pub(crate) fn expect_count(peer: &mut Peer, total: u64) -> Result<()> {
    let got = peer.count()?;
    if got != total {
        return Err(format!("sent {total} messages, the receiver got {got}").into());
    }
    Ok(())
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

/// Runs `op` (which moves `size` bytes) for the warm-up and then the
/// measured time; the rate in operations and bytes per second. The clock is
/// read once per batch of about 64 KiB moved, so that reading it (tens of
/// ns in a VM) does not count against small operations.
pub(crate) fn in_process_rate(ctx: &Ctx, size: usize, mut op: impl FnMut()) -> Result<Throughput> {
    let batch = (65536 / size.max(1)).max(1) as u64;
    let start = Instant::now();
    while start.elapsed() < ctx.budget.warmup {
        for _ in 0..batch {
            op();
        }
    }
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed() < ctx.budget.measure || n < 4 {
        for _ in 0..batch {
            op();
        }
        n += batch;
    }
    Ok(Throughput::new(n, size, t0.elapsed()))
}
